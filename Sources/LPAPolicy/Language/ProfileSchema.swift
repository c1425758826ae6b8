/// The keys a profile may use, per section. Unknown keys are errors: a typo in
/// a security policy must never be silently ignored.
enum ProfileSchema {
    static let top = ["description", "extends", "namespaces", "hostname", "run-as", "network", "filesystem",
                      "seccomp", "capabilities", "rlimits", "environment", "models", "pins",
                      "landlock", "landlock-exclude", "model-arguments", "isolation"]
    static let network = ["mode", "publish", "connect", "bind-ports", "connect-ports", "max-connections", "idle-timeout", "dns"]
    static let filesystem = ["read-only", "read-write", "hide", "tmpfs", "home", "caches", "noswap", "tmpfs-size",
                             "cwd", "devices", "shm-size", "allow-sockets"]
    static let seccomp = ["default", "errno", "deny", "allow", "socket-families", "ioctl-deny", "deny-clone-flags",
                          "personality-flags", "rules", "other-architectures"]
    static let environment = ["keep", "set", "allow-secrets"]
    static let pathItem = ["path", "optional"]
    static let tmpfsItem = ["path", "size", "mode"]
    static let modelItem = ["path", "sha256"]
    static let pins = ["executable", "files", "directories"]
    static let directoryPin = ["path", "files"]
    static let rule = ["syscall", "action", "errno", "args"]
    static let argument = ["index", "op", "value", "mask", "width"]

    /// Device groups: `gpu` covers NVIDIA, DRM render/card nodes and AMD KFD.
    /// Every glob is optional: a machine has some of these, never all.
    static let deviceGroups: [String: [String]] = [
        "gpu": ["/dev/nvidia*", "/dev/nvidiactl", "/dev/nvidia-uvm*", "/dev/dri/*", "/dev/kfd"],
    ]
}
