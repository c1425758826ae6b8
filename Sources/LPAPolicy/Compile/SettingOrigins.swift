/// Where the plan's single-valued settings were written. The plan carries origins on
/// its list entries (mounts, rules, ports, variables); these settings are one value
/// each, so their positions travel beside the plan instead of inside it (the plan's
/// JSON stays what the launcher needs). `lpa-run explain` shows them, so a user sees
/// which line opened a gap.
public struct SettingOrigins: Equatable, Sendable {
    public var namespaces: Origin?
    public var runAs: Origin?
    public var networkMode: Origin?
    public var home: Origin?
    public var noswap: Origin?
    public var cwd: Origin?
    public var seccompDefault: Origin?
    public var otherArchitectures: Origin?
    public var socketFamilies: Origin?
    public var capabilities: Origin?
    public var environmentKeep: Origin?
    public var allowSecrets: Origin?
    public var landlock: Origin?
    /// `isolation:` (the degraded mode); `--isolation` when it came from the command line.
    public var isolation: Origin?
    /// `filesystem.allow-sockets` entries: sockets a bind may expose on purpose.
    public var allowedSockets: [(path: String, origin: Origin)]

    public init() { allowedSockets = [] }

    public static func == (a: SettingOrigins, b: SettingOrigins) -> Bool {
        a.namespaces == b.namespaces && a.runAs == b.runAs && a.networkMode == b.networkMode
            && a.home == b.home && a.noswap == b.noswap && a.cwd == b.cwd
            && a.seccompDefault == b.seccompDefault && a.otherArchitectures == b.otherArchitectures
            && a.socketFamilies == b.socketFamilies && a.capabilities == b.capabilities
            && a.environmentKeep == b.environmentKeep && a.allowSecrets == b.allowSecrets
            && a.landlock == b.landlock && a.isolation == b.isolation
            && a.allowedSockets.map(\.path) == b.allowedSockets.map(\.path)
            && a.allowedSockets.map(\.origin) == b.allowedSockets.map(\.origin)
    }

    init(_ document: ProfileDocument) {
        namespaces = document.namespaces?.position.origin
        runAs = document.runAs?.position.origin
        networkMode = document.networkMode?.position.origin
        home = document.home?.position.origin
        noswap = document.noswap?.position.origin
        cwd = document.cwd?.position.origin
        seccompDefault = document.seccompDefault?.position.origin
        otherArchitectures = document.otherArchitectures?.position.origin
        socketFamilies = document.socketFamilies?.position.origin
        capabilities = document.capabilities?.position.origin
        environmentKeep = document.keep?.position.origin
        allowSecrets = document.allowSecrets?.position.origin
        landlock = document.landlock?.position.origin
        isolation = document.isolation?.position.origin
        allowedSockets = (document.allowSockets?.items ?? []).map { ($0.value.path, $0.position.origin) }
    }
}
