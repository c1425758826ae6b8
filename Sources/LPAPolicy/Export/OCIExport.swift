/// The plan as an OCI runtime bundle (runtime-spec 1.x `config.json`) whose root is an
/// empty read-only directory: every directory the workload sees is a mount of the plan
/// (read-only binds of the host's /usr, /etc, ..., tmpfs for home and /tmp), so no
/// image is needed, as in the run. `crun run -b DIR NAME` and `runc run` start it.
enum OCIExport {
    static let defaultDevLinks = ["/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"]

    static func export(_ plan: IsolationPlan, label: String, isFile: (@Sendable (String) -> Bool)?) -> ExportResult {
        let knownFiles = Set([plan.command.executable].compactMap { $0 } + plan.models.map(\.path)
                             + plan.pins.files.map(\.path))
        var parity: [ParityRow] = []
        let seccomp = SeccompExport.profile(plan)

        // process
        let executable = plan.command.executable ?? plan.command.argv.first ?? "/bin/false"
        let args = [executable] + plan.command.argv.dropFirst()
        parity.append(ParityRow("command", plan.command.argv.first == executable ? .exact : .approximate,
                                plan.command.argv.first == executable
                                    ? "process.args"
                                    : "process.args with argv[0] replaced by the resolved path \(executable)"))
        var process: [(String, ExportValue)] = [
            ("terminal", .bool(false)),
            ("user", .object([("uid", .uint(UInt64(plan.identity.sandboxUid))),
                              ("gid", .uint(UInt64(plan.identity.sandboxGid)))])),
            ("args", .array(args.map { .string($0) })),
            ("env", .array(plan.environment.set.map { .string($0.name + "=" + $0.value) })),
            ("cwd", .string(plan.workingDirectory)),
        ]
        parity.append(ParityRow("environment", .exact, "process.env: \(plan.environment.set.count) variables, "
                                    + "nothing inherited from the host"))
        parity.append(ParityRow("workingDirectory", .exact, "process.cwd \(plan.workingDirectory)"))
        let caps = plan.capabilities.keep.map { ExportValue.string("CAP_" + $0.name.uppercased()) }
        process.append(("capabilities", .object(["bounding", "effective", "inheritable", "permitted", "ambient"].map {
            ($0, .array(caps))
        })))
        parity.append(ParityRow("capabilities", .exact, caps.isEmpty
                                    ? "process.capabilities: every set empty"
                                    : "process.capabilities: "
                                        + plan.capabilities.keep.map(\.name).joined(separator: ", ") + " in every set"))
        process.append(("rlimits", .array(plan.rlimits.map { limit in
            .object([("type", .string("RLIMIT_" + limit.resource.uppercased())),
                     ("hard", .uint(limit.hard ?? UInt64.max)), ("soft", .uint(limit.soft ?? UInt64.max))])
        })))
        for limit in plan.rlimits {
            parity.append(ParityRow("rlimit \(limit.resource)", .exact, "process.rlimits RLIMIT_\(limit.resource.uppercased())"))
        }
        process.append(("noNewPrivileges", .bool(plan.noNewPrivs)))
        parity.append(ParityRow("noNewPrivs", .exact, "process.noNewPrivileges"))

        // mounts
        var mounts: [ExportValue] = []
        var masked: [String] = []
        var readonly: [String] = []
        var noswap: [String] = []
        var unexpressed: [String] = []
        let owner = ["uid=\(plan.identity.sandboxUid)", "gid=\(plan.identity.sandboxGid)"]
        for entry in plan.mounts {
            let o = entry.options
            var flags: [String] = []
            if o.noSuid { flags.append("nosuid") }
            if o.noDev { flags.append("nodev") }
            if o.noExec { flags.append("noexec") }
            func mount(_ type: String, _ source: String, _ options: [String]) {
                mounts.append(.object([("destination", .string(entry.target)), ("type", .string(type)),
                                       ("source", .string(source)), ("options", .array(options.map { .string($0) }))]))
            }
            switch entry.kind {
            case .tmpfs:
                var options = flags + [o.readOnly ? "ro" : "rw"]
                if let mode = o.mode { options.append("mode=" + MountOptions.octal(mode)) }
                if let size = o.size { options.append("size=\(size)") }
                // The sandbox user's, as the launcher makes them (MountSteps); /dev too, so
                // that the runtime, inside the user namespace, can populate it.
                options += owner
                if o.noswap { noswap.append(entry.target) }
                mount("tmpfs", "tmpfs", options)
            case .bind:
                guard let source = entry.source else { continue }
                // "rro": read-only all the way down (runtime-spec 1.1, mount_setattr), as the
                // launcher's AT_RECURSIVE read-only binds. A file has no submounts, and
                // crun 1.8 refuses "rro" on one: plain "ro" there.
                let file = knownFiles.contains(source) || isFile?(source) == true
                mount("bind", source, ["rbind", o.readOnly ? (file ? "ro" : "rro") : "rw"] + flags)
            case .device:
                guard let source = entry.source else { continue }
                if source.contains("*") || source.contains("?") || source.contains("[") {
                    unexpressed.append("device glob \(source)")
                    continue
                }
                mount("bind", source, ["bind"] + flags)
            case .proc:
                mount("proc", "proc", flags)
            case .devpts:
                mount("devpts", "devpts", flags + ["newinstance", "ptmxmode=0666", "mode=0620"])
            case .symlink:
                // The runtime makes these links itself (runtime-spec "Dev symbolic links").
                if !defaultDevLinks.contains(entry.target) { unexpressed.append("symlink \(entry.target)") }
            case .protect:
                readonly.append(entry.target)
            case .hide:
                masked.append(entry.target)
            case .file:
                // The DNS sink is lpa-run's own event loop: other engines keep their resolver.
                unexpressed.append("generated \(entry.target) (the DNS sink)")
            }
        }
        parity.append(ParityRow("mounts", unexpressed.isEmpty ? .exact : .approximate,
                                "\(mounts.count) mounts in plan order: read-only binds as rbind,rro, tmpfs with the plan's "
                                    + "size, mode and owner (the sandbox user's), fresh proc and devpts; "
                                    + "/dev links made by the runtime; "
                                    + "optional binds are included and fail the start where the source is missing"
                                    + (unexpressed.isEmpty ? "" : "; left out: " + unexpressed.joined(separator: ", "))))
        parity.append(ParityRow("hidden paths", .approximate, "linux.maskedPaths (\(masked.count)): an empty read-only "
                                    + "tmpfs over a directory, as in the run; /dev/null over a file, so open() succeeds on "
                                    + "an empty file where lpa-run refuses it (EACCES); missing paths skipped"))
        if !readonly.isEmpty {
            parity.append(ParityRow("/proc protections", .exact, "linux.readonlyPaths: " + readonly.joined(separator: ", ")))
        }
        parity.append(ParityRow("root", .exact, "root.readonly over an empty rootfs/: only the plan's mounts are visible"))
        if !noswap.isEmpty {
            parity.append(ParityRow("tmpfs noswap", .none,
                                    "the kernel refuses noswap to a tmpfs made inside a user namespace, where the "
                                        + "runtime makes it: run the bundle on a host with no swap (swapoff -a) or with a "
                                        + "cgroup memory.swap.max of 0 (" + noswap.joined(separator: ", ") + ")"))
        }

        // linux
        let map: [ExportValue] = [.object([("containerID", .uint(UInt64(plan.identity.sandboxUid))),
                                           ("hostID", .uint(UInt64(plan.identity.uid))), ("size", .int(1))])]
        let gidMap: [ExportValue] = [.object([("containerID", .uint(UInt64(plan.identity.sandboxGid))),
                                              ("hostID", .uint(UInt64(plan.identity.gid))), ("size", .int(1))])]
        var linux: [(String, ExportValue)] = []
        if plan.namespaces.contains(.user) {
            linux.append(("uidMappings", .array(map)))
            linux.append(("gidMappings", .array(gidMap)))
        }
        linux.append(("namespaces", .array(plan.namespaces.map { .object([("type", .string(namespace($0)))]) })))
        parity.append(ParityRow("namespaces", .exact,
                                "linux.namespaces: " + plan.namespaces.map(namespace).joined(separator: ", ")))
        parity.append(ParityRow("identity", .exact, "process.user \(plan.identity.sandboxUid):\(plan.identity.sandboxGid), "
                                    + "one id mapped to host \(plan.identity.uid):\(plan.identity.gid)"))
        linux.append(("maskedPaths", .array(masked.map { .string($0) })))
        linux.append(("readonlyPaths", .array(readonly.map { .string($0) })))
        linux.append(("seccomp", seccomp.json))
        parity += seccomp.parity

        parity += networkRows(plan, how: "a new network namespace: the runtime brings up only lo")
        parity += CommonParity.rows(plan, landlock: "runtime-spec has no Landlock field: the mounts and seccomp filter "
                                        + "still hold; add it inside the image (a wrapper that calls landlock_restrict_self)",
                                    pins: "the runtime binds by path and checks no hash: verify before `crun run` "
                                        + "(lpa-run hash), or ship the files in an image pinned by digest")

        let config: ExportValue = .object([
            ("ociVersion", .string("1.0.2")),
            ("process", .object(process)),
            ("root", .object([("path", .string("rootfs")), ("readonly", .bool(true))])),
            ("hostname", .string(plan.hostname)),
            ("mounts", .array(mounts)),
            ("linux", .object(linux)),
        ])
        parity.append(ParityRow("hostname", .exact, "hostname \(plan.hostname) in the uts namespace"))
        return ExportResult(target: .oci, files: [ExportFile(name: "config.json", contents: config.json())],
                            directories: ["rootfs"], parity: parity)
    }

    static func namespace(_ n: Namespace) -> String {
        switch n {
        case .user: "user"
        case .mount: "mount"
        case .pid: "pid"
        case .net: "network"
        case .ipc: "ipc"
        case .uts: "uts"
        case .cgroup: "cgroup"
        }
    }

    static func networkRows(_ plan: IsolationPlan, how: String) -> [ParityRow] {
        var rows: [ParityRow] = []
        switch plan.network.mode {
        case .none: rows.append(ParityRow("network.mode", .exact, "none: " + how))
        case .host: rows.append(ParityRow("network.mode", .exact, "host: no network namespace"))
        }
        for port in plan.network.publish {
            rows.append(ParityRow("publish \(port.hostAddress):\(port.hostPort)->\(port.sandboxPort)", .none,
                                  "a bundle publishes nothing: use the engine's port mapping (podman -p "
                                      + "\(port.hostAddress):\(port.hostPort):\(port.sandboxPort), CNI portmap) or "
                                      + "--to systemd (systemd-socket-proxyd into the namespace)"))
        }
        for endpoint in plan.network.connect {
            rows.append(ParityRow("connect \(endpoint.hostAddress):\(endpoint.hostPort)", .none,
                                  "no relay out of the namespace: run a proxy in the container's network namespace "
                                      + "(systemd-socket-proxyd) or give the service a network"))
        }
        // Unix-socket endpoints (`-p unix:`, `--connect unix:`) are relayed by lpa-run
        // itself: no target has that relay, so each gets its own row, never a silent drop.
        for socket in plan.network.publishSockets {
            rows.append(ParityRow("publish unix:\(socket.hostPath) -> sandbox :\(socket.sandboxPort)", .none,
                                  "publish the port over TCP on loopback instead, and put a unix-socket proxy in front"))
        }
        for socket in plan.network.connectSockets {
            rows.append(ParityRow("connect unix:\(socket.hostPath)", .none,
                                  "no relay out of the container: bind-mount the socket (the container can then reach whatever it reaches) or run a proxy"))
        }
        if let limits = RelayLimitsParity.row(plan, .none, "a bundle relays nothing: the engine's port mapping or "
                                                  + "proxy has its own connection limits and timeouts (set them there)") {
            rows.append(limits)
        }
        return rows
    }
}

/// Rows every full target shares: Landlock, pins, models.
enum CommonParity {
    static func rows(_ plan: IsolationPlan, landlock: String, pins: String) -> [ParityRow] {
        var rows: [ParityRow] = []
        if plan.landlock.mode != .off {
            rows.append(ParityRow("landlock (\(plan.landlock.mode.rawValue))", .none, landlock))
        }
        let verified = plan.pins.files.count + plan.pins.directories.count + (plan.pins.executable == nil ? 0 : 1)
            + plan.models.filter { $0.sha256 != nil }.count
        if verified > 0 {
            rows.append(ParityRow("pins (\(verified))", .none, pins))
        }
        return rows
    }
}
