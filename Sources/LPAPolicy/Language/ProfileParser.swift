/// Turns one profile's text into a `ProfileDocument`: checks keys and types,
/// expands variables, resolves names (syscalls, capabilities, rlimits) and
/// reports every problem with its position. Knows nothing of other files.
struct ProfileParser {
    let expander: VariableExpander

    func parse(_ profile: LoadedProfile) -> (ProfileDocument, [Diagnostic]) {
        var r = NodeReader(path: profile.path, text: profile.text)
        var doc = ProfileDocument()
        let root: Node?
        do throws(YAMLComposer.Failure) {
            // YAML's basic resolver: the readers take scalars as written.
            root = try YAMLComposer.compose(profile.text)
        } catch {
            r.report(YamlErrorMapper.diagnostic(for: error, reader: r))
            return (doc, r.diagnostics)
        }
        guard let root else { return (doc, r.diagnostics) }  // an empty file is an empty profile
        for (key, _, value) in r.entries(of: root, in: "a profile", keys: ProfileSchema.top) {
            switch key {
            case "description": doc.description = r.string(value, key: key)
            case "extends": doc.extends = r.extends(value)
            case "namespaces":
                doc.namespaces = r.list(value, key: key) { r, n in
                    r.choice(n, key: "namespaces", Namespace.self, Namespace.allCases)?.value
                }
            case "hostname": doc.hostname = r.hostname(value)
            case "run-as": doc.runAs = r.choice(value, key: key, Identity.RunAs.self, [.caller, .root])
            case "network": parseNetwork(value, into: &doc, &r)
            case "filesystem": parseFilesystem(value, into: &doc, &r)
            case "seccomp": parseSeccomp(value, into: &doc, &r)
            case "capabilities":
                doc.capabilities = r.list(value, key: key) { r, n in r.capability(n) }
            case "rlimits": doc.rlimits = r.rlimits(value)
            case "environment": parseEnvironment(value, into: &doc, &r)
            case "models":
                let e = expander
                doc.models = r.list(value, key: key) { r, n in r.model(n, expander: e) }
            case "pins": parsePins(value, into: &doc, &r)
            case "model-arguments":
                doc.modelArguments = r.list(value, key: key) { r, n in r.modelArgument(n) }
            case "landlock":
                doc.landlock = r.choice(value, key: key, LandlockPlan.Mode.self, LandlockPlan.Mode.allCases)
            case "isolation": doc.isolation = r.choice(value, key: key, IsolationMode.self, IsolationMode.allCases)
            case "landlock-exclude":
                let e = expander
                doc.landlockExclude = r.list(value, key: key) { r, n in r.path(n, key: "landlock-exclude", expander: e) }
            default: break
            }
        }
        return (doc, r.diagnostics)
    }

    private func parseNetwork(_ node: Node, into doc: inout ProfileDocument, _ r: inout NodeReader) {
        for (key, _, value) in r.entries(of: node, in: "'network'", keys: ProfileSchema.network) {
            switch key {
            case "mode": doc.networkMode = r.choice(value, key: key, NetworkPlan.Mode.self, [.none, .host])
            case "publish": doc.publish = r.list(value, key: key) { r, n in r.endpoint(n, key: "publish", EndpointParser.publishSpec) }
            case "connect": doc.connect = r.list(value, key: key) { r, n in r.endpoint(n, key: "connect", EndpointParser.connectSpec) }
            case "bind-ports": doc.bindPorts = r.ports(value, key: key)
            case "connect-ports": doc.connectPorts = r.ports(value, key: key)
            case "max-connections": doc.maxConnections = r.maxConnections(value, key: key)
            case "idle-timeout": doc.idleTimeout = r.idleTimeout(value, key: key)
            case "dns": doc.dns = r.choice(value, key: key, NetworkPlan.DNSMode.self, NetworkPlan.DNSMode.allCases)
            default: break
            }
        }
    }

    private func parseFilesystem(_ node: Node, into doc: inout ProfileDocument, _ r: inout NodeReader) {
        let e = expander
        for (key, _, value) in r.entries(of: node, in: "'filesystem'", keys: ProfileSchema.filesystem) {
            switch key {
            case "read-only": doc.readOnly = r.list(value, key: key) { r, n in r.pathItem(n, key: "read-only", expander: e) }
            case "read-write": doc.readWrite = r.list(value, key: key) { r, n in r.pathItem(n, key: "read-write", expander: e) }
            case "hide": doc.hide = r.list(value, key: key) { r, n in r.pathItem(n, key: "hide", expander: e) }
            case "tmpfs": doc.tmpfs = r.list(value, key: key) { r, n in r.tmpfsItem(n, key: "tmpfs", expander: e) }
            case "caches": doc.caches = r.list(value, key: key) { r, n in r.tmpfsItem(n, key: "caches", expander: e) }
            case "home": doc.home = r.choice(value, key: key, HomeMode.self, [.tmpfs, .none])
            case "noswap": doc.noswap = r.bool(value, key: key)
            case "tmpfs-size": doc.tmpfsSize = r.size(value, key: key)
            case "shm-size": doc.shmSize = r.size(value, key: key)
            case "cwd": doc.cwd = r.choice(value, key: key, CwdMode.self, [.none, .readOnly, .readWrite])
            case "devices": doc.devices = r.list(value, key: key) { r, n in r.device(n, expander: e) }
            case "allow-sockets":
                doc.allowSockets = r.list(value, key: key) { r, n in r.pathItem(n, key: "allow-sockets", expander: e) }
            default: break
            }
        }
    }

    private func parseSeccomp(_ node: Node, into doc: inout ProfileDocument, _ r: inout NodeReader) {
        for (key, _, value) in r.entries(of: node, in: "'seccomp'", keys: ProfileSchema.seccomp) {
            switch key {
            case "default": doc.seccompDefault = r.choice(value, key: key, SeccompDefault.self, [.allow, .deny, .kill, .log])
            case "errno": doc.seccompErrno = r.errnoName(value, key: key)
            case "deny": doc.seccompDeny = r.list(value, key: key) { r, n in r.syscallOrGroup(n, key: "deny") }
            case "allow": doc.seccompAllow = r.list(value, key: key) { r, n in r.syscallOrGroup(n, key: "allow") }
            case "socket-families":
                doc.socketFamilies = r.list(value, key: key) { r, n in
                    r.symbol(n, key: "socket-families", table: SymbolicConstants.socketFamilies, prefix: "AF_")
                }
            case "ioctl-deny":
                doc.ioctlDeny = r.list(value, key: key) { r, n in
                    r.symbol(n, key: "ioctl-deny", table: SymbolicConstants.ioctlRequests, prefix: "")
                }
            case "deny-clone-flags":
                doc.denyCloneFlags = r.list(value, key: key) { r, n in
                    r.symbol(n, key: "deny-clone-flags", table: SymbolicConstants.cloneFlags, prefix: "CLONE_")
                }
            case "personality-flags":
                doc.personalityFlags = r.list(value, key: key) { r, n in
                    r.symbol(n, key: "personality-flags", table: SymbolicConstants.personalityFlags, prefix: "")
                }
            case "rules": doc.rules = r.list(value, key: key) { r, n in r.rule(n) }
            case "other-architectures":
                doc.otherArchitectures = r.choice(value, key: key, OtherArchitectures.self, [.kill, .deny])
            default: break
            }
        }
    }

    private func parsePins(_ node: Node, into doc: inout ProfileDocument, _ r: inout NodeReader) {
        let e = expander
        for (key, _, value) in r.entries(of: node, in: "'pins'", keys: ProfileSchema.pins) {
            switch key {
            case "executable": doc.pinExecutable = r.sha256(value, key: key)
            case "files":
                doc.pinFiles = r.list(value, key: key) { r, n in r.filePin(n, expander: e) }
            case "directories":
                doc.pinDirectories = r.list(value, key: key) { r, n in r.directoryPin(n, expander: e) }
            default: break
            }
        }
    }

    private func parseEnvironment(_ node: Node, into doc: inout ProfileDocument, _ r: inout NodeReader) {
        for (key, _, value) in r.entries(of: node, in: "'environment'", keys: ProfileSchema.environment) {
            switch key {
            case "keep": doc.keep = r.list(value, key: key) { r, n in r.variableName(n, key: "keep", glob: true) }
            case "allow-secrets":
                doc.allowSecrets = r.list(value, key: key) { r, n in r.variableName(n, key: "allow-secrets", glob: true) }
            case "set": doc.set = r.variables(value, expander: expander)
            default: break
            }
        }
    }
}
