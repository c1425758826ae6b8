/// The exit statuses lpa-run uses for itself, as `env`, `timeout` and `docker run` do;
/// any other status is the command's own (128+N when it died from signal N).
public enum LPAExitCode {
    /// lpa-run's own error: bad options or profile, isolation that cannot be applied.
    public static let ownError: Int32 = 125
    /// The command was found but cannot be executed.
    public static let notExecutable: Int32 = 126
    /// The command was not found.
    public static let notFound: Int32 = 127
}
