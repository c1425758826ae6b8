/// The plan as a systemd service unit (systemd.exec, systemd.resource-control), plus,
/// for each published port, a socket unit and a systemd-socket-proxyd service that
/// joins the service's network namespace (JoinsNamespaceOf=): the systemd way to
/// publish a port into PrivateNetwork=yes.
enum SystemdExport {
    static let proxyd = "/usr/lib/systemd/systemd-socket-proxyd"
    static let harmlessDevices: Set<String> = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]

    static func export(_ plan: IsolationPlan, label: String) -> ExportResult {
        var parity: [ParityRow] = []
        let unit = "lpa-\(label).service"
        var lines: [String] = []
        func add(_ key: String, _ value: String) { lines.append(key + "=" + value) }

        let executable = plan.command.executable ?? plan.command.argv.first ?? "/bin/false"
        add("Type", "exec")
        add("ExecStart", ([executable] + plan.command.argv.dropFirst()).map { quote($0) }.joined(separator: " "))
        parity.append(ParityRow("command", .exact, "ExecStart= (argv[0] is the resolved path \(executable))"))
        if plan.identity.sandboxUid != 0 {
            add("User", String(plan.identity.sandboxUid))
            add("Group", String(plan.identity.sandboxGid))
        }
        parity.append(ParityRow("identity", .exact, plan.identity.sandboxUid == 0
                                    ? "root inside a user namespace of its own (PrivateUsers=yes)"
                                    : "User=\(plan.identity.sandboxUid) Group=\(plan.identity.sandboxGid) with PrivateUsers=yes"))
        // Specifiers (%h, %n) are expanded in WorkingDirectory=: a '%' of the path is doubled.
        add("WorkingDirectory", plan.workingDirectory.replacingEvery("%", with: "%%"))
        parity.append(ParityRow("workingDirectory", .exact, "WorkingDirectory=\(plan.workingDirectory)"))
        for variable in plan.environment.set {
            add("Environment", quote(variable.name + "=" + variable.value, expandsVariables: false))
        }
        parity.append(ParityRow("environment", .exact, "Environment= for each of the plan's \(plan.environment.set.count) "
                                    + "variables; a system service inherits nothing else from a shell"))
        add("UMask", "0077")
        parity.append(ParityRow("umask", .approximate, "UMask=0077: stricter than lpa-run, which keeps the caller's umask"))

        // Namespaces and identity.
        if plan.namespaces.contains(.user) { add("PrivateUsers", "yes") }
        if plan.namespaces.contains(.ipc) { add("PrivateIPC", "yes") }
        if plan.namespaces.contains(.uts) { add("ProtectHostname", "yes") }
        parity.append(ParityRow("namespaces", .exact,
                                "mount (every Protect*/Private* setting), user (PrivateUsers=yes), net (PrivateNetwork=yes), "
                                    + "ipc (PrivateIPC=yes), uts (ProtectHostname=yes), pid view (ProtectProc=invisible, "
                                    + "ProcSubset=pid), cgroup (ProtectControlGroups=yes)"))
        parity.append(ParityRow("hostname", .approximate,
                                "ProtectHostname=yes keeps the host's name in a private uts namespace; systemd cannot "
                                    + "set it to \(plan.hostname)"))

        // Filesystem.
        add("PrivateMounts", "yes")
        add("ProtectSystem", "strict")
        add("ProtectHome", "tmpfs")
        add("PrivateTmp", "yes")
        var tmpfs: [String] = []
        var readOnly: [String] = []
        var readWrite: [String] = []
        var hidden: [String] = []
        var devices: [String] = []
        var globs: [String] = []
        var noswap = false
        for entry in plan.mounts {
            let o = entry.options
            switch entry.kind {
            case .tmpfs where entry.target != "/dev":
                var options = [o.readOnly ? "ro" : "rw"]
                if o.noSuid { options.append("nosuid") }
                if o.noDev { options.append("nodev") }
                if o.noExec { options.append("noexec") }
                if let mode = o.mode { options.append("mode=" + MountOptions.octal(mode)) }
                if let size = o.size { options.append("size=\(size)") }
                if plan.identity.sandboxUid != 0 {
                    options.append("uid=\(plan.identity.sandboxUid)")
                    options.append("gid=\(plan.identity.sandboxGid)")
                }
                noswap = noswap || o.noswap
                tmpfs.append(escapePath(entry.target) + ":" + options.joined(separator: ","))
            case .bind:
                guard let source = entry.source else { continue }
                // SOURCE:DEST:rbind (the options field needs DEST spelled out).
                let spec = (entry.optional ? "-" : "") + escapePath(source) + ":" + escapePath(entry.target) + ":rbind"
                if o.readOnly { readOnly.append(spec) } else { readWrite.append(spec) }
            case .device:
                guard let source = entry.source, !harmlessDevices.contains(source) else { continue }
                if source.contains("*") || source.contains("?") || source.contains("[") {
                    globs.append(source)
                } else {
                    devices.append(source)
                }
            case .hide:
                hidden.append("-" + escapePath(entry.target))
            default:
                continue
            }
        }
        if !tmpfs.isEmpty { add("TemporaryFileSystem", tmpfs.joined(separator: " ")) }
        if !readOnly.isEmpty { add("BindReadOnlyPaths", readOnly.joined(separator: " ")) }
        if !readWrite.isEmpty { add("BindPaths", readWrite.joined(separator: " ")) }
        if !hidden.isEmpty { add("InaccessiblePaths", hidden.joined(separator: " ")) }
        parity.append(ParityRow("root", .approximate,
                                "ProtectSystem=strict and ProtectHome=tmpfs: the host's other directories stay visible "
                                    + "read-only (the plan shows only its mounts); hide more with InaccessiblePaths="))
        parity.append(ParityRow("mounts", .exact,
                                "TemporaryFileSystem= with the plan's size, mode and owner (home, /tmp, /run, /dev/shm); "
                                    + "BindReadOnlyPaths=/BindPaths= with '-' for optional sources"))
        parity.append(ParityRow("hidden paths", .exact, "InaccessiblePaths= (\(hidden.count), '-': missing ones skipped)"))
        if noswap {
            parity.append(ParityRow("tmpfs noswap", .none,
                                    "TemporaryFileSystem= passes mount options but systemd does not document noswap: run "
                                        + "on hosts without swap, or set MemorySwapMax=0 in the unit"))
        }
        add("ProtectKernelTunables", "yes")
        add("ProtectKernelModules", "yes")
        add("ProtectKernelLogs", "yes")
        add("ProtectControlGroups", "yes")
        add("ProtectClock", "yes")
        add("ProtectProc", "invisible")
        add("ProcSubset", "pid")
        parity.append(ParityRow("/proc protections", .exact, "ProtectKernelTunables=yes (read-only /proc/sys, "
                                    + "sysrq-trigger, ...), ProtectProc=invisible, ProcSubset=pid"))

        // Devices.
        if devices.isEmpty && globs.isEmpty {
            add("PrivateDevices", "yes")
            parity.append(ParityRow("devices", .exact, "PrivateDevices=yes: null, zero, full, random, urandom, tty and "
                                        + "a private devpts, as in the plan"))
        } else {
            add("DevicePolicy", "closed")
            for device in devices { add("DeviceAllow", escapePath(device) + " rw") }
            for glob in globs {
                if let group = deviceGroup(glob) { add("DeviceAllow", group + " rw") }
            }
            parity.append(ParityRow("devices", .approximate,
                                    "DevicePolicy=closed with DeviceAllow= for the GPU group (" + (devices + globs)
                                        .joined(separator: ", ") + "): the host's /dev stays visible, only access is closed"))
        }

        // Privileges.
        add("NoNewPrivileges", plan.noNewPrivs ? "yes" : "no")
        parity.append(ParityRow("noNewPrivs", .exact, "NoNewPrivileges=yes"))
        let caps = plan.capabilities.keep.map { "CAP_" + $0.name.uppercased() }.joined(separator: " ")
        add("CapabilityBoundingSet", caps)
        add("AmbientCapabilities", caps)
        parity.append(ParityRow("capabilities", .exact, caps.isEmpty ? "CapabilityBoundingSet= empty, no ambient"
                                    : "CapabilityBoundingSet=\(caps) and AmbientCapabilities="))
        add("RestrictSUIDSGID", "yes")
        add("RestrictRealtime", "yes")
        add("LockPersonality", "yes")
        add("KeyringMode", "private")
        add("RemoveIPC", "yes")
        for limit in plan.rlimits {
            let key = "Limit" + limit.resource.uppercased()
            add(key, limitValue(limit.soft) + (limit.soft == limit.hard ? "" : ":" + limitValue(limit.hard)))
            parity.append(ParityRow("rlimit \(limit.resource)", .exact, "\(key)="))
        }

        // Network.
        switch plan.network.mode {
        case .none:
            add("PrivateNetwork", "yes")
            add("IPAddressDeny", "any")
            parity.append(ParityRow("network.mode", .exact, "none: PrivateNetwork=yes (only lo) and IPAddressDeny=any"))
        case .host:
            parity.append(ParityRow("network.mode", .exact, "host: the host's network"))
        }

        // Seccomp: systemd's filter takes names, not argument conditions; argument rules
        // map to the directives built for them, the rest is said in the table.
        lines += seccompLines(plan.seccomp, keepsChroot: plan.capabilities.keep.contains { $0.name == "sys_chroot" },
                              parity: &parity)
        parity += CommonParity.rows(plan, landlock: "systemd has no Landlock directive: ProtectSystem=strict and the "
                                        + "binds are the file wall; add Landlock inside the program if needed",
                                    pins: "units bind by path and check no hash: verify in ExecStartPre= "
                                        + "(lpa-run hash --check) or ship the files in a signed image (RootImage=)")

        var files: [ExportFile] = []
        // The description's first line, printable, with specifiers ('%') doubled.
        let description = plan.profile.description.split(separator: "\n").first.map(String.init) ?? "lpa-run export of \(label)"
        var unitHeader = ["[Unit]", "Description=" + TerminalText.printable(description).replacingEvery("%", with: "%%")]
        unitHeader.append("Documentation=man:systemd.exec(5)")
        var sockets: [String] = []
        for endpoint in plan.network.connect {
            parity.append(ParityRow("connect \(endpoint.hostAddress):\(endpoint.hostPort)", .none,
                                    "a unit with PrivateNetwork=yes reaches no host endpoint: run systemd-socket-proxyd "
                                        + "inside the namespace to it, or drop PrivateNetwork="))
        }
        // Unix-socket endpoints (`-p unix:`, `--connect unix:`) are relayed by lpa-run
        // itself: no target has that relay, so each gets its own row, never a silent drop.
        for socket in plan.network.publishSockets {
            parity.append(ParityRow("publish unix:\(socket.hostPath) -> sandbox :\(socket.sandboxPort)", .none,
                                  "publish the port over TCP on loopback instead, and put a unix-socket proxy in front"))
        }
        for socket in plan.network.connectSockets {
            parity.append(ParityRow("connect unix:\(socket.hostPath)", .none,
                                  "a unit cannot relay one host socket: BindPaths= of the socket exposes it as the unit's user"))
        }
        for port in plan.network.publish {
            let base = "lpa-\(label)-port\(port.hostPort)"
            sockets.append(base + ".socket")
            files.append(ExportFile(name: base + ".socket", contents: [
                "[Unit]", "Description=Published port \(port.hostPort) of \(unit)", "",
                "[Socket]", "ListenStream=\(listen(port.hostAddress, port.hostPort))", "",
                "[Install]", "WantedBy=sockets.target", "",
            ].joined(separator: "\n")))
            files.append(ExportFile(name: base + ".service", contents: [
                "[Unit]", "Description=Relay of port \(port.hostPort) into \(unit)",
                "Requires=\(unit) \(base).socket", "After=\(unit) \(base).socket", "JoinsNamespaceOf=\(unit)", "",
                "[Service]",
                "ExecStart=\(proxyd) --exit-idle-time=5min --connections-max=\(plan.network.maxConnections) "
                    + "127.0.0.1:\(port.sandboxPort)",
                "PrivateNetwork=yes", "PrivateTmp=yes", "DynamicUser=yes", "NoNewPrivileges=yes",
                "CapabilityBoundingSet=", "ProtectSystem=strict", "ProtectHome=yes", "",
            ].joined(separator: "\n")))
            parity.append(ParityRow("publish \(port.hostAddress):\(port.hostPort)->\(port.sandboxPort)", .exact,
                                    "\(base).socket listens on \(listen(port.hostAddress, port.hostPort)); "
                                        + "systemd-socket-proxyd joins \(unit)'s network namespace (JoinsNamespaceOf=) "
                                        + "and connects to 127.0.0.1:\(port.sandboxPort)"))
        }
        if let limits = plan.network.publish.isEmpty
            ? RelayLimitsParity.row(plan, .none, "the unit relays no host endpoint or socket (see their rows): nothing "
                                        + "carries these limits")
            : RelayLimitsParity.row(plan, .approximate, "systemd-socket-proxyd --connections-max=\(plan.network.maxConnections) "
                                        + "caps each published port; it has no per-connection idle timeout "
                                        + "(--exit-idle-time only ends an unused proxy)") {
            parity.append(limits)
        }
        let service = (unitHeader + ["", "[Service]"] + lines + ["", "[Install]", "WantedBy=multi-user.target", ""])
            .joined(separator: "\n")
        files.insert(ExportFile(name: unit, contents: service), at: 0)
        var result = ExportResult(target: .systemd, files: files, directories: [], parity: parity)
        result.refusals = refusals(plan)
        return result
    }

    static func seccompLines(_ seccomp: SeccompPlan, keepsChroot: Bool, parity: inout [ParityRow]) -> [String] {
        var lines: [String] = []
        lines.append("SystemCallArchitectures=native")
        switch seccomp.otherArchitectures {
        case .killProcess, .killThread:
            parity.append(ParityRow("seccomp.otherArchitectures", .approximate, "SystemCallArchitectures=native: a call "
                                        + "through another ABI fails with the unit's error instead of killing the caller"))
        default:
            parity.append(ParityRow("seccomp.otherArchitectures", .approximate, "SystemCallArchitectures=native: other "
                                        + "ABIs are refused, not \(seccomp.otherArchitectures)"))
        }
        let plain = SeccompExport.plainDenials(seccomp)
        var defaultErrno = "EPERM"
        switch seccomp.defaultAction {
        case .allow:
            // A deny list: each name with its own errno ("name:ERRNO").
            var entries = plain.map { item -> String in
                if case .errno(let name, _) = item.action { return item.name + ":" + name }
                return item.name
            }
            // systemd's @mount also holds chroot(2), which the plan's does not deny: without
            // CAP_SYS_CHROOT (the plan keeps no capability for it) it fails with EPERM
            // anyway, so denying it changes no outcome and completes systemd's group.
            if plain.contains(where: { $0.name == "mount" }), !keepsChroot {
                entries.insert("chroot:EPERM", at: 0)
            }
            let killing = plain.contains { if case .errno = $0.action { return false }; return true }
            if !entries.isEmpty { lines.append("SystemCallFilter=~" + entries.joined(separator: " ")) }
            if let first = plain.first, case .errno(let name, _) = first.action { defaultErrno = name }
            lines.append("SystemCallErrorNumber=\(defaultErrno)")
            parity.append(ParityRow("seccomp.defaultAction", .exact, "allow: SystemCallFilter=~ is a deny list"))
            parity.append(ParityRow("seccomp.rules (plain)", killing ? .approximate : .exact,
                                    "\(plain.count) syscalls denied by name, each with the plan's errno (name:ERRNO)"
                                        + (killing ? "; kill actions become SystemCallErrorNumber=" : "")))
        default:
            lines.append("SystemCallFilter=" + seccomp.rules.filter { $0.action == .allow && $0.number >= 0 }
                .map(\.syscall).joined(separator: " "))
            if case .errno(let name, _) = seccomp.defaultAction { defaultErrno = name }
            lines.append("SystemCallErrorNumber=\(defaultErrno)")
            parity.append(ParityRow("seccomp.defaultAction", .approximate,
                                    "an allow list (SystemCallFilter=), failing with \(defaultErrno); systemd adds the "
                                        + "calls every service needs (@default)"))
        }

        // Argument rules, by what they ask for.
        let reasons = Set(seccomp.rules.filter { !$0.args.isEmpty || $0.syscall == "clone3" }.compactMap(\.reason))
        if reasons.contains("socket-families") {
            let rules = seccomp.rules.filter { $0.reason == "socket-families" && $0.syscall == "socket" }
            let denied = Set(rules.flatMap { $0.args.filter { $0.op == .eq }.map(\.value) })
            let above = rules.flatMap { $0.args.filter { $0.op == .ge }.map(\.value) }.min() ?? 46
            let numbers = (0..<above).filter { !denied.contains($0) }
            let allowed = numbers.compactMap { familyName[Int($0)] }
            lines.append("RestrictAddressFamilies=" + (allowed.isEmpty ? "none" : allowed.joined(separator: " ")))
            parity.append(ParityRow("seccomp socket-families", allowed.count == numbers.count ? .exact : .approximate,
                                    "RestrictAddressFamilies=" + allowed.joined(separator: " ")
                                        + " (socket() of another family fails with EAFNOSUPPORT)"))
        }
        if reasons.contains("clone-flags") {
            lines.append("RestrictNamespaces=yes")
            parity.append(ParityRow("seccomp clone-flags", .exact, "RestrictNamespaces=yes: clone/unshare/setns with "
                                        + "namespace flags fail with EPERM, clone3 with ENOSYS"))
        }
        if reasons.contains("personality-flags") {
            parity.append(ParityRow("seccomp personality-flags", .approximate,
                                    "LockPersonality=yes: the personality cannot change at all (stricter)"))
        }
        if reasons.contains("ioctl-deny") {
            parity.append(ParityRow("seccomp ioctl-deny", .none,
                                    "SystemCallFilter= cannot compare ioctl requests: TIOCSTI and friends stay allowed; "
                                        + "give the service no terminal (the default StandardInput=null), or use "
                                        + "--to oci or --to seccomp with a runtime"))
        }
        let others = reasons.subtracting(["socket-families", "clone-flags", "personality-flags", "ioctl-deny"])
        if !others.isEmpty {
            parity.append(ParityRow("seccomp argument rules", .none, "argument conditions of "
                                        + others.sorted().joined(separator: ", ") + " have no systemd directive"))
        }
        return lines
    }

    /// The address families socket() knows below AF_INET6+1, by number, as systemd names them.
    static let familyName: [Int: String] = [
        1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK", 6: "AF_NETROM", 7: "AF_BRIDGE",
        8: "AF_ATMPVC", 9: "AF_X25", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET", 38: "AF_ALG", 40: "AF_VSOCK",
    ]

    static func deviceGroup(_ glob: String) -> String? {
        switch glob {
        case "/dev/nvidia*", "/dev/nvidia-uvm*": "char-nvidia"
        case "/dev/dri/*": "char-drm"
        default: nil
        }
    }

    static func listen(_ address: IPAddress, _ port: UInt16) -> String {
        let text = "\(address)"
        return text.contains(":") ? "[\(text)]:\(port)" : "\(text):\(port)"
    }

    static func limitValue(_ value: UInt64?) -> String { value.map(String.init) ?? "infinity" }

    /// One word of ExecStart= or Environment=: double-quoted, with '\' and '"' escaped,
    /// '%' doubled (specifiers) and '$' doubled (ExecStart= variable expansion).
    static func quote(_ word: String, expandsVariables: Bool = true) -> String {
        var out = "\""
        for ch in word {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "%": out += "%%"
            case "$" where expandsVariables: out += "$$"
            case "\n": out += "\\n"
            case _ where ch.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }:
                // C escapes, which systemd undoes inside a quoted word: no raw control character in the unit.
                for scalar in ch.unicodeScalars {
                    if scalar.value < 0x20 || scalar.value == 0x7f {
                        let hex = String(scalar.value, radix: 16)
                        out += "\\x" + (hex.count < 2 ? "0" : "") + hex
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            default: out.append(ch)
            }
        }
        return out + "\""
    }

    /// A path in a space-separated list: spaces and '%' escaped. Paths with characters
    /// the unit syntax gives a meaning to (line breaks, quotes, backslashes, the ':' of
    /// bind specifications) never get here: `refusals` stops the export.
    static func escapePath(_ path: String) -> String {
        path.replacingEvery("%", with: "%%").replacingEvery(" ", with: "\\x20")
    }

    /// A path the unit cannot carry as written: a control character would start a line
    /// of its own (a directive of the path's choosing), and quotes, backslashes and ':'
    /// change how systemd splits and unescapes list entries.
    static func isUnsafe(_ path: String) -> Bool {
        path.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f || "\\\"':".unicodeScalars.contains($0) }
    }

    /// Every path the unit would write that it cannot carry safely, as an error.
    static func refusals(_ plan: IsolationPlan) -> [String] {
        var paths = [plan.workingDirectory]
        for entry in plan.mounts {
            paths.append(entry.target)
            // A generated file's source is its text, which the unit never carries.
            if entry.kind != .file, let source = entry.source { paths.append(source) }
        }
        var seen = Set<String>()
        return paths.filter { isUnsafe($0) && seen.insert($0).inserted }.map {
            "the path \($0.debugDescription) cannot be written safely into a systemd unit (a control character, quote, "
                + "backslash or ':'): rename it, or export --to oci or kubernetes, which quote every value"
        }
    }
}
