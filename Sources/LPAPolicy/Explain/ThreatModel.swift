/// The project's threat model as data: the risks a local model server or agent poses
/// to the person running it (docs/THREATS.md tells each one's source). `lpa-run explain`
/// walks a plan against this list, so the list and the document must name the same
/// risks in the same order (a test compares them).
public enum Risk: String, CaseIterable, Codable, Sendable {
    case persistence
    case phoneHome = "phone-home"
    case tampering
    case hostFiles = "host-files"
    case kernel
    case terminal
    case processes
    case exposure

    public var title: String {
        switch self {
        case .persistence: "Prompts or outputs persisting on the host (caches, logs, history files, swap, core dumps)"
        case .phoneHome: "Phoning home (telemetry, update checks, model downloads)"
        case .tampering: "Tampered model or server files"
        case .hostFiles: "Reading the user's files, keys and agent sockets"
        case .kernel: "Escaping through kernel attack surface"
        case .terminal: "Terminal injection"
        case .processes: "Signalling or tracing other processes"
        case .exposure: "Exposing the model to the network"
        }
    }

    /// What stays open whatever the profile says: outside any sandbox's reach, or
    /// outside this one's. Stated so that "answered" is never read as "solved".
    public var residual: [String] {
        switch self {
        case .persistence:
            ["what the client keeps: the program that sends prompts (browser, CLI history, agent logs) runs outside the sandbox",
             "lpa-run's own audit log and report record calls and addresses, never prompt text; keep them if you want the record"]
        case .phoneHome:
            ["data the model returns to its clients can carry anything, including what it was asked; the sandbox limits where the workload itself can send it"]
        case .tampering:
            ["a pin proves a file is the one you hashed, not that it is good: a model trained to misbehave passes its own pin"]
        case .hostFiles:
            ["files of the read-only system directories (/etc, /usr) are readable except those hidden: secrets kept there are visible"]
        case .kernel:
            ["bugs in the system calls that stay allowed: the kernel is shared with the host"]
        case .terminal:
            ["escape sequences in the workload's output reach your terminal emulator, as with any program's output"]
        case .processes:
            []
        case .exposure:
            ["anyone on this machine can connect to a published loopback port; put an authenticating proxy in front when other users share the machine",
             "a model that memorized training data repeats it to whoever may ask: outside a sandbox's reach"]
        }
    }
}
