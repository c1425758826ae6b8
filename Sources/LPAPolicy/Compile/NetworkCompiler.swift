/// The network part of the plan: a private loopback by default, host ports (or host
/// unix sockets) published inbound and host loopback services (or host unix sockets)
/// relayed outbound.
struct NetworkCompiler {
    let document: ProfileDocument
    let overrides: CommandLineOverrides

    func compile(_ diagnostics: inout [Diagnostic]) -> NetworkPlan {
        let mode = document.networkMode?.value ?? .none
        var plan = NetworkPlan(mode: mode, dns: document.dns?.value)
        if mode == .host, let dns = document.dns, dns.value == .sink {
            diagnostics.append(Diagnostic(at: dns.position, "'dns: sink' needs network mode 'none'",
                                          hint: "with the host network the host's resolver answers; remove 'dns' or use mode 'none'"))
        }
        if let limit = document.maxConnections { plan.maxConnections = limit.value }
        if let timeout = document.idleTimeout { plan.idleTimeoutMilliseconds = timeout.value }
        func add(_ spec: PublishSpec, _ origin: Origin?, at position: SourcePosition) {
            switch spec {
            case .port(var port):
                port.origin = origin
                plan.publish.append(port)
                check(port, at: position, &diagnostics)
            case .socket(var socket):
                socket.origin = origin
                plan.publishSockets.append(socket)
            }
        }
        func add(_ spec: ConnectSpec, _ origin: Origin?) {
            switch spec {
            case .port(var endpoint):
                endpoint.origin = origin
                plan.connect.append(endpoint)
            case .socket(var endpoint):
                endpoint.origin = origin
                plan.connectSockets.append(endpoint)
            }
        }
        for item in document.publish?.items ?? [] {
            add(item.value, item.position.origin, at: item.position)
        }
        for text in overrides.publish {
            let at = SourcePosition.commandLine("--publish")
            do throws(EndpointParser.Failure) {
                add(try EndpointParser.publishSpec(text), nil, at: at)
            } catch {
                diagnostics.append(Diagnostic(at: at, error.message, hint: error.hint))
            }
        }
        for item in document.connect?.items ?? [] {
            add(item.value, item.position.origin)
        }
        for text in overrides.connect {
            do throws(EndpointParser.Failure) {
                add(try EndpointParser.connectSpec(text), nil)
            } catch {
                diagnostics.append(Diagnostic(at: .commandLine("--connect"), error.message, hint: error.hint))
            }
        }
        if mode == .host, plan.hasRelays {
            let at = document.networkMode?.position ?? .commandLine("--publish")
            diagnostics.append(Diagnostic(at: at, "network mode 'host' cannot be combined with publish or connect",
                                          hint: "with the host network the sandbox already shares every port; use mode 'none' to relay only chosen ports"))
        }
        // Two relays on one sandbox port, or two listeners on one host port, cannot both work.
        var seen: Set<String> = []
        for port in plan.publish where !seen.insert("publish \(port.hostAddress):\(port.hostPort)").inserted {
            diagnostics.append(Diagnostic(at: position(port.origin), "host port \(port.hostAddress):\(port.hostPort) is published twice"))
        }
        for endpoint in plan.connect where !seen.insert("connect \(endpoint.sandboxPort)").inserted {
            diagnostics.append(Diagnostic(at: position(endpoint.origin), "sandbox port \(endpoint.sandboxPort) is used by two connect entries"))
        }
        for socket in plan.publishSockets where !seen.insert("publish unix:\(socket.hostPath)").inserted {
            diagnostics.append(Diagnostic(at: position(socket.origin), "host socket \(socket.hostPath) is published twice"))
        }
        for endpoint in plan.connectSockets where !seen.insert("connect unix:\(endpoint.sandboxPath)").inserted {
            diagnostics.append(Diagnostic(at: Self.position(endpoint.origin, "--connect"),
                                          "sandbox socket \(endpoint.sandboxPath) is used by two connect entries"))
        }
        return plan
    }

    /// Unix-socket endpoints against the mounts (PolicyCompiler calls this once both exist):
    /// - the sandbox-side path of `connect unix:` must lie on one of the sandbox's tmpfs
    ///   mounts (the init creates the socket there; a bind would put it on the host);
    /// - no host socket path may lie inside a read-write bind: the sandbox could replace
    ///   it with a link to another socket before the run, or, for a published socket,
    ///   swap the name that lpa-run removes at exit (DESIGN.md: whatever the sandbox can
    ///   write is hostile input).
    static func checkSockets(_ network: NetworkPlan, mounts: [MountEntry], resolveLinks: ((String) -> String?)?,
                             _ diagnostics: inout [Diagnostic]) {
        for endpoint in network.connectSockets {
            let parent = PathNormalizer.directory(of: endpoint.sandboxPath)
            let holder = mounts.filter { $0.kind != .symlink && PathNormalizer.isWithin(parent, $0.target) }
                .max { $0.target.count < $1.target.count }
            let covered = mounts.contains { $0.target == endpoint.sandboxPath }
            if holder?.kind != .tmpfs || holder?.options.readOnly == true || covered {
                diagnostics.append(Diagnostic(
                    at: position(endpoint.origin, "--connect"),
                    "sandbox socket path \(endpoint.sandboxPath) does not lie on a tmpfs of the sandbox"
                        + (holder.map { " (\($0.target) is a \($0.kind.rawValue))" } ?? ""),
                    hint: "choose a SANDBOX_PATH under /run, /tmp or the home when they are tmpfs: unix:\(endpoint.hostPath):/run/\(endpoint.hostPath.split(separator: "/").last ?? "app.sock")"))
            }
        }
        let writable = mounts.filter { $0.kind == .bind && !$0.options.readOnly }.compactMap(\.source)
        let hostPaths = network.publishSockets.map { ($0.hostPath, $0.origin, "--publish") }
            + network.connectSockets.map { ($0.hostPath, $0.origin, "--connect") }
        for (path, origin, option) in hostPaths {
            let forms = [path] + (resolveLinks?(PathNormalizer.directory(of: path)).map {
                [$0 + "/" + (path.split(separator: "/").last.map(String.init) ?? "")]
            } ?? [])
            guard let bind = writable.first(where: { source in
                let sourceForms = [source] + (resolveLinks?(source).map { [$0] } ?? [])
                return forms.contains { f in sourceForms.contains { PathNormalizer.isWithin(f, $0) } }
            }) else { continue }
            diagnostics.append(Diagnostic(
                at: position(origin, option),
                "host socket \(path) lies inside the read-write bind \(bind): the sandbox could replace it",
                hint: "keep the host socket outside what the sandbox may write (for example in $XDG_RUNTIME_DIR)"))
        }
    }

    /// Listening beyond loopback exposes the model server to the network: only on request.
    private func check(_ port: PublishedPort, at position: SourcePosition, _ diagnostics: inout [Diagnostic]) {
        if !port.hostAddress.isLoopback, !overrides.allowNonLoopbackPublish {
            diagnostics.append(Diagnostic(at: position, "publish address '\(port.hostAddress)' is not loopback",
                                          hint: "pass --allow-non-loopback-publish to expose the port beyond this machine"))
        }
    }

    private func position(_ origin: Origin?) -> SourcePosition { Self.position(origin) }

    private static func position(_ origin: Origin?, _ option: String = "--publish") -> SourcePosition {
        origin.map { SourcePosition(file: $0.file, line: $0.line, column: 0) } ?? .commandLine(option)
    }
}
