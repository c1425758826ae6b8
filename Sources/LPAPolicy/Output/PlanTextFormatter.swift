/// The text form of a plan, for `--dry-run`: grouped, aligned, short.
extension PlanFormatter {
    public static func text(_ plan: IsolationPlan) -> String {
        var out: [String] = []
        func section(_ title: String) { out.append(""); out.append(title) }
        /// Every setting a profile asked for says where: "  [file:line]".
        func from(_ origin: Origin?) -> String { origin.map { "  [\($0)]" } ?? "" }
        func row(_ label: String, _ value: String, _ origin: Origin? = nil) {
            out.append("  " + label.padded(to: 15) + " " + value
                       + from(origin))
        }
        let chain = plan.profile.chain.map { "\($0.name) (\($0.source))" }.joined(separator: " <- ")
        out.append("profile      \(chain)")
        out.append("digest       \(plan.profile.digest)")
        out.append("command      \(plan.command.argv.joined(separator: " "))")
        out.append("executable   \(plan.command.executable ?? "(not found)")")
        if let degraded = plan.degraded {
            out.append("isolation    landlock: DEGRADED, no namespaces (Landlock, seccomp, rlimits only)")
            section("degraded mode (--isolation landlock)")
            row("private dir", degraded.privateParent.map { "a fresh directory under \($0) (must be a tmpfs), removed at exit" }
                ?? "none: XDG_RUNTIME_DIR is not set, a run is refused")
            row("extra seccomp", "socket(AF_INET/AF_INET6) other than TCP, io_uring and MSG_FASTOPEN sends fail with EPERM")
            for loss in degraded.losses { row("lost", loss) }
        } else {
            out.append("isolation    \(plan.isolation.rawValue)")
        }

        section("sandbox")
        row("namespaces", plan.namespaces.map(\.rawValue).joined(separator: " "))
        row("identity", "\(plan.identity.runAs.rawValue): uid \(plan.identity.uid) -> \(plan.identity.sandboxUid), gid \(plan.identity.gid) -> \(plan.identity.sandboxGid)")
        row("hostname", plan.hostname)
        row("workdir", plan.workingDirectory)

        section("filesystem")
        let width = plan.mounts.map { $0.target.count }.max() ?? 0
        for mount in plan.mounts {
            var detail = mount.kind == .symlink ? "-> \(mount.source ?? "")" : mount.options.summary
            if mount.kind == .file {
                let text = (mount.source ?? "").split(separator: "\n").joined(separator: "; ")
                detail = "written by lpa-run: \"\(TerminalText.printable(text))\" " + detail
            } else if mount.kind != .symlink, let source = mount.source, source != mount.target {
                detail = "from \(source) " + detail
            }
            if mount.verified { detail += " (verified)" }
            if mount.optional { detail += " (optional)" }
            out.append("  " + mount.kind.rawValue.padded(to: 7) + " "
                       + mount.target.padded(to: width) + "  " + detail
                       + from(mount.origin))
        }

        section("network")
        row("mode", plan.network.mode.rawValue)
        row("dns", plan.network.dns == .sink && plan.network.mode == .none
            ? "sink: 127.0.0.1:53 inside (UDP, TCP) answers NXDOMAIN at once, never forwards, logs each name; /etc/hosts still resolves"
            : "host: the host's /etc/resolv.conf" + (plan.network.mode == .none ? " (nothing answers on a private network)" : ""))
        for port in plan.network.publish {
            row("publish", "\(port.hostAddress):\(port.hostPort) -> sandbox :\(port.sandboxPort)", port.origin)
        }
        for endpoint in plan.network.connect {
            row("connect", "sandbox 127.0.0.1:\(endpoint.sandboxPort) -> \(endpoint.hostAddress):\(endpoint.hostPort)",
                endpoint.origin)
        }
        for socket in plan.network.publishSockets {
            row("publish", "unix:\(socket.hostPath) (created 0600, removed at exit) -> sandbox :\(socket.sandboxPort)",
                socket.origin)
        }
        for endpoint in plan.network.connectSockets {
            row("connect", "sandbox unix:\(endpoint.sandboxPath) -> unix:\(endpoint.hostPath) (relayed, not bound)",
                endpoint.origin)
        }
        if plan.network.hasRelays {
            let idle = plan.network.idleTimeoutMilliseconds
            row("relay", "at most \(plan.network.maxConnections) connections per port or endpoint; idle ones closed "
                + (idle == 0 ? "never" : "after \(NetworkPlan.describe(milliseconds: idle))"))
        }

        section("seccomp")
        row("default", "\(plan.seccomp.defaultAction), other ABIs \(plan.seccomp.otherArchitectures) (\(plan.seccomp.architecture))")
        var byReason: [(String, [SeccompRule])] = []
        for rule in plan.seccomp.rules {
            let reason = rule.reason ?? "rule"
            if let last = byReason.indices.last, byReason[last].0 == reason {
                byReason[last].1.append(rule)
            } else {
                byReason.append((reason, [rule]))
            }
        }
        for (reason, rules) in byReason {
            let names = rules.map { $0.args.isEmpty ? $0.syscall : "\($0.syscall)(\($0.args.count) cond)" }
            var seen: Set<String> = []
            let unique = names.filter { seen.insert($0).inserted }
            let origins = Array(Set(rules.compactMap(\.origin))).sorted { ($0.file, $0.line) < ($1.file, $1.line) }
            row(reason, "\(rules[0].action): " + unique.joined(separator: " "),
                origins.count == 1 ? origins[0] : nil)
            if origins.count > 1 { out[out.count - 1] += "  [" + origins.map(\.description).joined(separator: ", ") + "]" }
        }

        section("landlock")
        for (label, value) in landlockRows(plan.landlock) {
            out.append(label.isEmpty ? "  " + value : "  " + label.padded(to: 15) + " " + value)
        }

        section("audit")
        let answers = Dictionary(grouping: plan.audit.calls, by: \.answer.description)
        let order = plan.audit.calls.map(\.answer.description).reduce(into: [String]()) {
            if !$0.contains($1) { $0.append($1) }
        }
        if order.isEmpty { row("notify", "nothing (every refusal stays in the kernel, unlogged)") }
        for answer in order {
            row("notify", "\(answer): " + (answers[answer] ?? []).map(\.syscall).joined(separator: " "))
        }
        for call in plan.audit.calls {
            if let reason = call.expected { row("expected", "\(call.syscall) (\(call.answer)): \(reason), not reported as blocked") }
        }

        section("process")
        row("caps", plan.capabilities.keep.isEmpty ? "none" : plan.capabilities.keep.map(\.name).joined(separator: " "))
        for limit in plan.rlimits {
            row("rlimit " + limit.resource, limit.soft.map(SizeParser.format) ?? "unlimited", limit.origin)
        }
        row("no_new_privs", plan.noNewPrivs ? "yes" : "no")
        for model in plan.models {
            row("model", model.path + (model.sha256.map { " sha256:\($0.prefix(12))…" } ?? " (not pinned)"), model.origin)
        }
        if let pin = plan.pins.executable {
            row("pin", "\(plan.command.executable ?? "(command)") sha256:\(pin.sha256.prefix(12))…", pin.origin)
        }
        for pin in plan.pins.files {
            row("pin", "\(pin.path) sha256:\(pin.sha256.prefix(12))…", pin.origin)
        }
        for pin in plan.pins.directories {
            row("pin", "\(pin.path)/ (\(pin.files.count) files, nothing else)", pin.origin)
        }

        section("environment")
        for variable in plan.environment.set { row(variable.name, variable.value, variable.origin) }
        if !plan.environment.dropped.isEmpty { row("(dropped)", plan.environment.dropped.joined(separator: " ")) }
        // Paths, names and values come from profiles, the command line and the host: each
        // line stays one printable line (a newline or escape inside a value becomes "?").
        return out.map { TerminalText.printable($0) }.joined(separator: "\n") + "\n"
    }

    /// "mode best-effort, ABI 7" and one row per rule with its rights, masked to the
    /// host's ABI when lpa-run asked the kernel. Empty labels are whole lines.
    private static func landlockRows(_ landlock: LandlockPlan) -> [(String, String)] {
        var rows: [(String, String)] = []
        let abi = landlock.abi.map { "ABI \($0)" } ?? "ABI of the running kernel"
        switch (landlock.mode, landlock.abi) {
        case (.off, _):
            rows.append(("mode", "off (no filesystem ruleset)"))
        case (.bestEffort, 0):
            rows.append(("", "landlock: not available on this kernel (best-effort: off)"))
        case (.required, 0):
            rows.append(("mode", "required, but not available on this kernel: a run exits 125"))
        default:
            rows.append(("mode", "\(landlock.mode.rawValue), \(abi)"))
            let all = LandlockAccess.allCases.count
            rows.append(("handles", landlock.handled.count == all ? "all \(all) filesystem rights"
                         : landlock.handled.map(\.rawValue).joined(separator: " ")))
            for rule in landlock.rules {
                rows.append(("allow " + rule.path,
                             rule.access.map(\.rawValue).joined(separator: " ") + (rule.optional ? " (optional)" : "")))
            }
        }
        rows.append(("scopes", landlock.scopes.isEmpty ? "none (Landlock ABI 6 needed)" : landlock.scopes.joined(separator: " ")))
        for (label, ports, right) in [("tcp bind", landlock.network.bind, "bind-tcp"),
                                      ("tcp connect", landlock.network.connect, "connect-tcp")] {
            let enforced = ports == .any || landlock.network.handled.contains(right)
            rows.append((label, ports == .any ? "any port" : "only " + ports.text
                         + (enforced ? "" : " (not enforced: Landlock ABI \(LandlockNetwork.abi) needed)")))
        }
        return rows
    }
}
