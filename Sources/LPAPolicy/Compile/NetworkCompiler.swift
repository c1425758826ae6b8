/// The network part of the plan: a private loopback by default, host ports
/// published inbound and host loopback services relayed outbound.
struct NetworkCompiler {
    let document: ProfileDocument
    let overrides: CommandLineOverrides

    func compile(_ diagnostics: inout [Diagnostic]) -> NetworkPlan {
        let mode = document.networkMode?.value ?? .none
        var publish: [PublishedPort] = []
        var connect: [HostEndpoint] = []
        for item in document.publish?.items ?? [] {
            var port = item.value
            port.origin = item.position.origin
            publish.append(port)
            check(port, at: item.position, &diagnostics)
        }
        for text in overrides.publish {
            let at = SourcePosition.commandLine("--publish")
            do throws(EndpointParser.Failure) {
                let port = try EndpointParser.publish(text)
                publish.append(port)
                check(port, at: at, &diagnostics)
            } catch {
                diagnostics.append(Diagnostic(at: at, error.message, hint: error.hint))
            }
        }
        for item in document.connect?.items ?? [] {
            var endpoint = item.value
            endpoint.origin = item.position.origin
            connect.append(endpoint)
        }
        for text in overrides.connect {
            do throws(EndpointParser.Failure) {
                connect.append(try EndpointParser.connect(text))
            } catch {
                diagnostics.append(Diagnostic(at: .commandLine("--connect"), error.message, hint: error.hint))
            }
        }
        if mode == .host, !publish.isEmpty || !connect.isEmpty {
            let at = document.networkMode?.position ?? .commandLine("--publish")
            diagnostics.append(Diagnostic(at: at, "network mode 'host' cannot be combined with publish or connect",
                                          hint: "with the host network the sandbox already shares every port; use mode 'none' to relay only chosen ports"))
        }
        // Two relays on one sandbox port, or two listeners on one host port, cannot both work.
        var seen: Set<String> = []
        for port in publish where !seen.insert("publish \(port.hostAddress):\(port.hostPort)").inserted {
            diagnostics.append(Diagnostic(at: position(port.origin), "host port \(port.hostAddress):\(port.hostPort) is published twice"))
        }
        for endpoint in connect where !seen.insert("connect \(endpoint.sandboxPort)").inserted {
            diagnostics.append(Diagnostic(at: position(endpoint.origin), "sandbox port \(endpoint.sandboxPort) is used by two connect entries"))
        }
        return NetworkPlan(mode: mode, publish: publish, connect: connect)
    }

    /// Listening beyond loopback exposes the model server to the network: only on request.
    private func check(_ port: PublishedPort, at position: SourcePosition, _ diagnostics: inout [Diagnostic]) {
        if !port.hostAddress.isLoopback, !overrides.allowNonLoopbackPublish {
            diagnostics.append(Diagnostic(at: position, "publish address '\(port.hostAddress)' is not loopback",
                                          hint: "pass --allow-non-loopback-publish to expose the port beyond this machine"))
        }
    }

    private func position(_ origin: Origin?) -> SourcePosition {
        origin.map { SourcePosition(file: $0.file, line: $0.line, column: 0) } ?? .commandLine("--publish")
    }
}
