/// The Landlock ruleset from the plan's mounts (see LandlockPlan): read and execute
/// beneath read-only binds, read and write beneath tmpfs mounts and read-write binds,
/// read/write/ioctl on devices and the sandbox's devpts, read/write in /proc, listing
/// of the sandbox's root; nothing else. Hides, protections and symbolic links get no
/// rule: a rule could only add rights, and what they cover is already beneath a rule
/// of the mount that holds them (the mount wall makes them empty or read-only).
struct LandlockCompiler {
    var mode: LandlockPlan.Mode
    /// The host's ABI (0: none), nil when unknown.
    var abi: Int?
    /// Test aid (`landlock-exclude`): rules at or beneath these paths are left out.
    var excluded: [String] = []
    /// `network: bind-ports / connect-ports` (default `any`: ollama's runners and many
    /// servers bind loopback ports they choose at run time).
    var bindPorts: LandlockPorts = .any
    var connectPorts: LandlockPorts = .any

    static let readOnly: [LandlockAccess] = [.execute, .readFile, .readDir]
    static let readWrite = LandlockAccess.readWrite
    static let device: [LandlockAccess] = [.writeFile, .readFile, .ioctlDev]
    static let proc: [LandlockAccess] = [.writeFile, .readFile, .readDir]

    func compile(_ mounts: [MountEntry], network: NetworkPlan = NetworkPlan(mode: .none)) -> LandlockPlan {
        let known = LandlockAccess.known(abi: abi)
        let scopes = abi == nil || abi! >= 6 ? ["signal", "abstract-unix-socket"] : []
        let ports = compilePorts(network)
        guard mode != .off else {
            return LandlockPlan(mode: mode, abi: abi, handled: [], scopes: scopes, rules: [], network: ports)
        }
        var rules = [LandlockRule(path: "/", access: [.readDir], mount: nil)]
        for (index, mount) in mounts.enumerated() {
            guard var access = rights(mount) else { continue }
            access = access.filter(known.contains)
            if mount.options.noExec { access.removeAll { $0 == .execute } }
            guard !access.isEmpty, !isExcluded(mount.target) else { continue }
            rules.append(LandlockRule(path: mount.target, access: access, mount: index, optional: mount.optional))
        }
        if isExcluded("/") { rules.removeFirst() }
        return LandlockPlan(mode: mode, abi: abi, handled: known, scopes: scopes, rules: rules, network: ports)
    }

    /// The TCP rules: a port list handles its direction; published sandbox ports are
    /// always bindable and `--connect` sandbox ports always connectable (the plan's own
    /// endpoints must keep working). Applied whatever `landlock` says about the
    /// filesystem: they are a network setting of their own. Below ABI 4 nothing is
    /// handled (best-effort, shown by --dry-run).
    private func compilePorts(_ network: NetworkPlan) -> LandlockNetwork {
        let bind = bindPorts.adding(network.publish.map(\.sandboxPort))
        let connect = connectPorts.adding(network.connect.map(\.sandboxPort))
        var handled: [String] = []
        if abi == nil || abi! >= LandlockNetwork.abi {
            if bind != .any { handled.append("bind-tcp") }
            if connect != .any { handled.append("connect-tcp") }
        }
        return LandlockNetwork(handled: handled, bind: bind, connect: connect)
    }

    /// TCP Fast Open connects inside sendto/sendmsg/sendmmsg (MSG_FASTOPEN with an
    /// address), a path on which Landlock's connect hook is not called: with connect
    /// ports restricted those calls fail with EPERM whenever the flag is set (a plain
    /// send on a connected socket is unaffected).
    static func fastOpenRules(reason: String) -> [SeccompRule] {
        let eperm = SeccompAction.errno(name: "EPERM", number: ErrnoNames.number("EPERM")!)
        let fastOpen: UInt64 = 0x2000_0000  // MSG_FASTOPEN
        return [("sendto", 3), ("sendmsg", 2), ("sendmmsg", 3)].map { call, flags in
            SeccompRule(syscall: call, number: SyscallResolver.number(of: call) ?? -1, action: eperm,
                        args: [ArgCondition(index: flags, op: .maskedEq, value: fastOpen, mask: fastOpen, width: 32)],
                        reason: reason)
        }
    }

    private func rights(_ mount: MountEntry) -> [LandlockAccess]? {
        switch mount.kind {
        case .bind: mount.options.readOnly ? Self.readOnly : Self.readWrite
        case .tmpfs: mount.options.readOnly ? Self.readOnly : Self.readWrite
        case .device: mount.options.readOnly ? [.readFile, .ioctlDev] : Self.device
        case .devpts: Self.device
        case .proc: Self.proc
        case .symlink, .protect, .hide: nil
        // A generated file (the DNS sink's resolv.conf): read only.
        case .file: [.readFile]
        }
    }

    private func isExcluded(_ path: String) -> Bool {
        excluded.contains { path == $0 || path.hasPrefix($0 == "/" ? "/" : $0 + "/") }
    }
}
