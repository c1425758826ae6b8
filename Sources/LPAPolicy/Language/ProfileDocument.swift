/// One profile file, parsed and checked on its own: values are typed, paths are
/// expanded and absolute, names are resolved. Unset keys are nil so that merging
/// can tell "not said" from "said empty".
struct ProfileDocument: Sendable {
    var description: Located<String>?
    var extends: [Located<String>] = []
    var namespaces: ListValue<Namespace>?
    var hostname: Located<String>?
    var runAs: Located<Identity.RunAs>?

    var networkMode: Located<NetworkPlan.Mode>?
    /// `network: bind-ports / connect-ports`: Landlock TCP rules (`any`: not restricted).
    var bindPorts: Located<LandlockPorts>?
    var connectPorts: Located<LandlockPorts>?
    /// `network: max-connections / idle-timeout`: the relay's limits (NetworkPlan).
    var maxConnections: Located<Int>?
    var idleTimeout: Located<UInt64>?
    /// `network: dns`: the DNS sink, or the host's resolver configuration (NetworkPlan.dns).
    var dns: Located<NetworkPlan.DNSMode>?
    var publish: ListValue<PublishSpec>?
    var connect: ListValue<ConnectSpec>?

    var readOnly: ListValue<PathItem>?
    var readWrite: ListValue<PathItem>?
    var hide: ListValue<PathItem>?
    var tmpfs: ListValue<TmpfsItem>?
    var home: Located<HomeMode>?
    var caches: ListValue<TmpfsItem>?
    var noswap: Located<Bool>?
    var tmpfsSize: Located<UInt64>?
    /// Size of the private /dev/shm (PyTorch and NCCL need more than the default).
    var shmSize: Located<UInt64>?
    var cwd: Located<CwdMode>?
    var devices: ListValue<DeviceItem>?
    /// Unix sockets (or directories holding them) that binds may expose on purpose.
    var allowSockets: ListValue<PathItem>?

    var seccompDefault: Located<SeccompDefault>?
    var seccompErrno: Located<String>?
    /// deny/allow of this file, replayed in file order by the seccomp compiler
    /// (a child's `allow` removes what its parents denied).
    var seccompDeny: ListValue<String>?
    var seccompAllow: ListValue<String>?
    var socketFamilies: ListValue<SymbolicValue>?
    var ioctlDeny: ListValue<SymbolicValue>?
    var denyCloneFlags: ListValue<SymbolicValue>?
    /// personality(2) flags the workload may set; 0 and the 0xffffffff query always work.
    var personalityFlags: ListValue<SymbolicValue>?
    var rules: ListValue<RawRule>?
    var otherArchitectures: Located<OtherArchitectures>?

    var capabilities: ListValue<Capability>?
    var rlimits: [String: Located<RlimitValue>] = [:]

    var keep: ListValue<String>?
    var set: [String: Located<String>] = [:]
    var allowSecrets: ListValue<String>?

    var models: ListValue<ModelItem>?
    /// `model-arguments:` words of the command line after which a model path follows
    /// (`-m`, `--model`, vllm's `serve`): that file is bound read-only automatically.
    var modelArguments: ListValue<String>?

    /// `pins:` SHA-256 of the resolved command, of single files, of whole directories.
    var pinExecutable: Located<String>?
    var pinFiles: ListValue<ModelItem>?
    var pinDirectories: ListValue<DirectoryPinItem>?

    /// `isolation: namespaces | landlock` (the degraded mode, opt-in).
    var isolation: Located<IsolationMode>?
    /// `landlock: required | best-effort | off`.
    var landlock: Located<LandlockPlan.Mode>?
    /// Test aid: mount targets whose Landlock rules are left out (docs/profiles.md).
    var landlockExclude: ListValue<String>?
}

/// A list as written in a profile: appended to the parent's list, or replacing
/// it when written as `{replace: [...]}`.
struct ListValue<Item: Sendable>: Sendable {
    var replace: Bool
    var items: [Located<Item>]
    var position: SourcePosition
}

enum HomeMode: String, Sendable, CaseIterable { case tmpfs, none }
enum CwdMode: String, Sendable, CaseIterable { case none, readOnly = "read-only", readWrite = "read-write" }
enum SeccompDefault: String, Sendable, CaseIterable { case allow, deny, kill, log }
enum OtherArchitectures: String, Sendable, CaseIterable { case kill, deny }

struct PathItem: Sendable, Equatable {
    var path: String
    var optional: Bool
}

struct TmpfsItem: Sendable, Equatable {
    var path: String
    var size: UInt64?
    var mode: UInt32?
}

/// A device entry: a named group (`gpu`) already expanded into globs, or a path.
struct DeviceItem: Sendable, Equatable {
    var path: String
    var optional: Bool
}

struct ModelItem: Sendable, Equatable {
    var path: String
    var sha256: String?
}

/// `{path: /opt/llama/lib, files: {libllama.so: HEX, ...}}`: relative name → digest.
struct DirectoryPinItem: Sendable, Equatable {
    var path: String
    var files: [Located<ModelItem>]
}

/// `seccomp.rules` entry.
struct RawRule: Sendable, Equatable {
    var syscall: String
    var number: Int32
    var action: RawAction
    var args: [ArgCondition]
}

enum RawAction: Sendable, Equatable {
    case allow, deny, kill, log
    case errno(String)
}

/// An rlimit value; nil means unlimited.
struct RlimitValue: Sendable, Equatable {
    var limit: UInt64?
}
