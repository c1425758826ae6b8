/// The result of a successful compilation: the plan, and warnings worth showing.
public struct Compilation: Sendable {
    public var plan: IsolationPlan
    public var warnings: [Diagnostic]
    /// Positions of the plan's single-valued settings (`lpa-run explain`).
    public var origins: SettingOrigins
}

/// Profiles in, an `IsolationPlan` out. Pure: everything it knows about the
/// host comes from `context`, every file from `loader`.
public struct PolicyCompiler: Sendable {
    public let loader: any ProfileLoader
    public let context: HostContext
    /// The digest encodes the whole plan as canonical JSON (~1.3 ms): dry-run shows it,
    /// a real run may skip it (start-up is benchmarked). Skipped, it reads "sha256:-".
    public var computesDigest = true

    public init(loader: any ProfileLoader, context: HostContext) {
        self.loader = loader
        self.context = context
    }

    /// Compiles `reference` (a profile name or path) for `command`.
    public func compile(profile reference: String, command: CommandPlan,
                        overrides: CommandLineOverrides = .init()) throws(CompileFailure) -> Compilation {
        // A profile that cannot be found or read is the --profile option's problem.
        let (plan, diagnostics, origins) = build(reference, command: command, overrides: overrides,
                                                 referencePosition: .commandLine("--profile"))
        let errors = diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let plan else { throw CompileFailure(diagnostics: errors.isEmpty ? diagnostics : errors) }
        return Compilation(plan: plan, warnings: diagnostics.filter { $0.severity == .warning }, origins: origins)
    }

    /// Checks one profile file and its extends chain without a command: errors and warnings.
    public func check(file path: String) -> [Diagnostic] {
        build(path, command: CommandPlan(argv: [], executable: nil), overrides: .init()).diagnostics
    }

    private func build(_ reference: String, command: CommandPlan,
                       overrides: CommandLineOverrides, referencePosition: SourcePosition? = nil)
        -> (plan: IsolationPlan?, diagnostics: [Diagnostic], origins: SettingOrigins) {
        let parser = ProfileParser(expander: VariableExpander(context: context))
        let resolution = ExtendsResolver(loader: loader, parser: parser).resolve(reference, position: referencePosition)
        var diagnostics = resolution.diagnostics
        guard !resolution.documents.isEmpty else { return (nil, diagnostics, SettingOrigins()) }
        let merged = ProfileMerger.merge(resolution.documents.map(\.document))
        var document = merged.document
        addCommandLineModels(overrides.models, to: &document, &diagnostics)

        let namespaces = compileNamespaces(document, &diagnostics)
        checkCapabilities(document, &diagnostics)
        let network = NetworkCompiler(document: document, overrides: overrides).compile(&diagnostics)
        let identity = IdentityCompiler.identity(runAs: document.runAs?.value ?? .caller, context: context)
        let cwdMode = document.cwd?.value ?? .none
        let homeMode = document.home?.value ?? .tmpfs
        let workingDirectory = cwdMode != .none ? context.cwd : (homeMode == .tmpfs ? context.home : "/")

        // Mounts no profile wrote: --ro/--rw/--tmpfs, the command's Python environment,
        // the preset's model arguments. Each is skipped when a bind already covers it.
        var added = AddedMounts()
        CommandLineBindReader(context: context).read(overrides.binds, into: &added, &diagnostics)
        let commandPaths = CommandPaths(document: document, context: context, command: command,
                                        overrides: overrides, workingDirectory: workingDirectory)
        var bound: [String] = (document.readOnly?.items ?? []).map(\.value.path)
        bound += (document.readWrite?.items ?? []).map(\.value.path)
        bound += (document.models?.items ?? []).map(\.value.path)
        if cwdMode != .none { bound.append(context.cwd) }
        bound += added.binds.filter { $0.source == $0.target }.map(\.source)
        let pythonEnvironment = commandPaths.pythonEnvironment(alreadyBound: bound, &diagnostics)
        if let pythonEnvironment { added.binds += pythonEnvironment.binds }
        let modelArguments = commandPaths.modelArguments(alreadyBound: bound, &diagnostics)
        added.binds += modelArguments.binds

        var mountCompiler = MountCompiler(document: document, context: context, executable: command.executable,
                                          executablePinned: document.pinExecutable != nil)
        mountCompiler.added = added
        var mounts = mountCompiler.compile(&diagnostics)
        if network.dns == .sink && network.mode == .none {
            // After every other mount: it covers the host's /etc/resolv.conf (or its link).
            let origin = document.dns?.position.origin
                ?? SourcePosition.automatic("network: dns: sink, the default with mode none").origin
            mounts.append(MountEntry(kind: .file, source: NetworkPlan.sinkResolvConf, target: "/etc/resolv.conf",
                                     options: MountOptions(readOnly: true, noSuid: true, noDev: true, noExec: true),
                                     origin: origin))
        }
        if let pythonEnvironment { commandPaths.checkInterpreter(pythonEnvironment, mounts, &diagnostics) }
        commandPaths.checkVisibility(mounts, skipping: modelArguments.consumed, &diagnostics)
        checkProfilesOutsideWritableBinds(resolution.documents.map(\.profile.path), mounts, &diagnostics)
        NetworkCompiler.checkSockets(network, mounts: mounts, resolveLinks: context.resolveLinks, &diagnostics)
        let compiledSeccomp = SeccompCompiler(document: document, steps: merged.seccompSteps).compile(&diagnostics)
        let seccomp = compiledSeccomp.plan
        checkNetworkNamespace(network, namespaces, document, &diagnostics)
        let audit = AuditCompiler(seccomp: seccomp,
                                  privateNetwork: network.mode == .none && namespaces.contains(.net)).compile()
        LauncherCallCheck(seccomp: compiledSeccomp, audit: audit).check(&diagnostics)
        let pins = PinCompiler(document: document).compile(&diagnostics)
        let environment = EnvironmentCompiler(document: document, context: context, overrides: overrides)
            .compile(&diagnostics)

        var hostname = document.hostname?.value ?? "lpa-sandbox"
        if let requested = overrides.hostname {
            if HostnameRule.isValid(requested) {
                hostname = requested
            } else {
                diagnostics.append(Diagnostic(at: .commandLine("--hostname"), "bad hostname '\(requested)': use 1-63 letters, digits and '-'"))
            }
        }
        var plan = IsolationPlan(
            command: command,
            namespaces: network.mode == .host ? namespaces.filter { $0 != .net } : namespaces,
            identity: identity,
            hostname: hostname,
            workingDirectory: workingDirectory,
            mounts: mounts,
            network: network,
            seccomp: seccomp,
            audit: audit,
            capabilities: CapabilityPlan(keep: (document.capabilities?.items ?? []).map(\.value)),
            rlimits: rlimits(document),
            environment: environment,
            models: (document.models?.items ?? []).map {
                ModelPin(path: $0.value.path, sha256: $0.value.sha256, origin: $0.position.origin)
            },
            pins: pins,
            landlock: LandlockCompiler(mode: document.landlock?.value ?? .bestEffort, abi: context.landlockABI,
                                       excluded: (document.landlockExclude?.items ?? []).map(\.value),
                                       bindPorts: document.bindPorts?.value ?? .any,
                                       connectPorts: document.connectPorts?.value ?? .any)
                .compile(mounts, network: network),
            profile: ProfileChain(
                chain: resolution.documents.reversed().map { .init(name: $0.profile.name, source: $0.profile.path) },
                description: document.description?.value ?? "", digest: ""))
        let isolation = overrides.isolation ?? document.isolation?.value ?? .namespaces
        // The degraded mode's own filter carries these rules; here they join the profile's.
        if isolation != .landlock, plan.landlock.network.connect != .any {
            let fastOpen = LandlockCompiler.fastOpenRules(reason: "connect-ports")
            // libseccomp drops a conditional rule on a call that also has an unconditional
            // one (an allowlist's `allow: [sendmsg]`): that allow then excludes the flag.
            for index in plan.seccomp.rules.indices where plan.seccomp.rules[index].action == .allow
                && plan.seccomp.rules[index].args.isEmpty {
                guard var flags = fastOpen.first(where: { $0.syscall == plan.seccomp.rules[index].syscall })?.args.first
                else { continue }
                flags.value = 0
                plan.seccomp.rules[index].args = [flags]
            }
            plan.seccomp.rules += fastOpen
        }
        // Landlock's port rules see only IPPROTO_TCP sockets: with ports restricted, an
        // inet stream socket of another protocol (MPTCP 262, SCTP 132) would connect and
        // bind anywhere (red team). The degraded mode's own filter has the same rule.
        if isolation != .landlock, plan.landlock.network.connect != .any || plan.landlock.network.bind != .any {
            let eperm = SeccompAction.errno(name: "EPERM", number: ErrnoNames.number("EPERM")!)
            let notTCP = ArgCondition(index: 2, op: .gt, value: 6, width: 32)
            // As for TCP Fast Open: an unconditional allow of socket() would make libseccomp drop
            // the conditional rule, so it allows protocols up to IPPROTO_TCP only.
            for index in plan.seccomp.rules.indices where plan.seccomp.rules[index].action == .allow
                && plan.seccomp.rules[index].args.isEmpty && plan.seccomp.rules[index].syscall == "socket" {
                plan.seccomp.rules[index].args = [ArgCondition(index: 2, op: .le, value: 6, width: 32)]
            }
            for family: UInt64 in [2, 10] {  // AF_INET, AF_INET6
                plan.seccomp.rules.append(SeccompRule(
                    syscall: "socket", number: SyscallResolver.number(of: "socket") ?? -1, action: eperm,
                    args: [ArgCondition(index: 0, op: .eq, value: family), notTCP], reason: "tcp-ports"))
            }
        }
        if isolation != .landlock, plan.landlock.network.connect != .any || plan.landlock.network.bind != .any {
            // The rules above changed the filter: the audit calls (which refusals the
            // supervisor answers, with which errno) follow it, so the plan's errno is the one seen.
            plan.audit = AuditCompiler(seccomp: plan.seccomp,
                                       privateNetwork: network.mode == .none && namespaces.contains(.net)).compile()
        }
        if isolation == .landlock {
            DegradedCompiler(context: context, bindPorts: document.bindPorts?.value ?? .any,
                             connectPorts: document.connectPorts?.value ?? .any).compile(&plan, &diagnostics)
        }
        plan.profile.digest = computesDigest ? PlanDigest.digest(of: plan) : "sha256:-"
        var origins = SettingOrigins(document)
        if overrides.isolation != nil { origins.isolation = SourcePosition.commandLine("--isolation").origin }
        return (plan, diagnostics, origins)
    }

    /// --model FILE: bound read-only like a profile's `models` entry; a relative path
    /// means the caller's working directory.
    private func addCommandLineModels(_ paths: [String], to document: inout ProfileDocument,
                                      _ diagnostics: inout [Diagnostic]) {
        guard !paths.isEmpty else { return }
        let position = SourcePosition.commandLine("--model")
        var list = document.models ?? ListValue(replace: false, items: [], position: position)
        for path in paths {
            do {
                let absolute = try PathNormalizer.normalize(path.hasPrefix("/") ? path : context.cwd + "/" + path)
                list.items.append(Located(value: ModelItem(path: absolute, sha256: nil), position: position))
            } catch {
                diagnostics.append(Diagnostic(at: position, error.message))
            }
        }
        document.models = list
    }

    /// The user and mount namespaces carry the whole sandbox: without them there
    /// is no private root to build, so they cannot be removed.
    private func compileNamespaces(_ document: ProfileDocument, _ diagnostics: inout [Diagnostic]) -> [Namespace] {
        guard let list = document.namespaces else { return Namespace.allCases }
        let chosen = Set(list.items.map(\.value))
        for required in [Namespace.user, .mount] where !chosen.contains(required) {
            diagnostics.append(Diagnostic(at: list.position, "namespace '\(required.rawValue)' cannot be removed",
                                          hint: "the sandbox is built inside the user and mount namespaces"))
        }
        // The sandbox's /proc is always fresh (host processes hidden), and the kernel lets
        // a user namespace mount proc only for a pid namespace it owns ("mount proc: EPERM").
        if chosen.contains(.user), chosen.contains(.mount), !chosen.contains(.pid) {
            diagnostics.append(Diagnostic(at: list.position, "namespace 'pid' cannot be removed",
                                          hint: "the sandbox's fresh /proc needs its own pid namespace: the kernel "
                                              + "refuses to mount proc for the host's pid namespace"))
        }
        return Namespace.allCases.filter { chosen.contains($0) || $0 == .user || $0 == .mount || $0 == .pid }
    }

    /// Capabilities that reach across the sandbox's walls, even inside its own user
    /// namespace: sys_ptrace (the init and every process inside, process_vm_*),
    /// sys_admin (mount, namespaces, and a hundred other checks), sys_module and
    /// sys_rawio (kernel and hardware), dac_read_search (open_by_handle_at: any file
    /// of a bound filesystem, whatever the binds say). No profile may keep them.
    static let refusedCapabilities: [String: String] = [
        "CAP_SYS_PTRACE": "it lets the workload trace the sandbox's init and read its memory and descriptors",
        "CAP_SYS_ADMIN": "it lets the workload mount, make namespaces and pass many kernel checks meant for root",
        "CAP_SYS_MODULE": "it concerns the host's kernel modules",
        "CAP_SYS_RAWIO": "it gives raw access to devices and I/O ports",
        "CAP_DAC_READ_SEARCH": "open_by_handle_at reaches any file of a bound filesystem, outside the binds",
    ]

    private func checkCapabilities(_ document: ProfileDocument, _ diagnostics: inout [Diagnostic]) {
        for item in document.capabilities?.items ?? [] {
            guard let why = Self.refusedCapabilities[item.value.name] else { continue }
            diagnostics.append(Diagnostic(at: item.position, "capability '\(item.value.name)' cannot be kept: \(why)",
                                          hint: "remove it from `capabilities`; lpa-run refuses it in every profile"))
        }
    }

    /// Network mode `none` is a private network namespace with only loopback; published
    /// ports and host endpoints are relayed into one. Without `net` the sandbox would
    /// share the host's network while the plan says otherwise.
    private func checkNetworkNamespace(_ network: NetworkPlan, _ namespaces: [Namespace],
                                       _ document: ProfileDocument, _ diagnostics: inout [Diagnostic]) {
        guard network.mode == .none, !namespaces.contains(.net) else { return }
        let position = document.namespaces?.position ?? .commandLine("namespaces")
        diagnostics.append(Diagnostic(at: position, "network mode 'none' needs the 'net' namespace",
                                      hint: "add 'net' to 'namespaces', or choose 'network: {mode: host}' explicitly"))
    }

    /// A profile file the sandbox can write is a policy the sandbox chooses for the next
    /// run: `--profile ./lpa.yaml` in the project an agent edits would let it switch to
    /// `network: host` silently. Every file of the chain must lie outside the plan's
    /// read-write binds (also through links).
    private func checkProfilesOutsideWritableBinds(_ files: [String], _ mounts: [MountEntry],
                                                   _ diagnostics: inout [Diagnostic]) {
        // Only files on disk: in-memory profiles (tests) cannot be rewritten by anyone.
        guard loader is FileProfileLoader else { return }
        let writable = mounts.filter { $0.kind == .bind && !$0.options.readOnly }.compactMap(\.source)
        let onDisk = files.filter { !$0.hasPrefix(ProfileReference.builtinPrefix) }
            .map { $0.hasPrefix("/") ? $0 : PathNormalizer.lexical(context.cwd + "/" + $0) }
        for file in onDisk {
            let forms = [file] + (context.resolveLinks?(file).map { [$0] } ?? [])
            guard let bind = writable.first(where: { source in
                let sourceForms = [source] + (context.resolveLinks?(source).map { [$0] } ?? [])
                return forms.contains { f in sourceForms.contains { PathNormalizer.isWithin(f, $0) } }
            }) else { continue }
            diagnostics.append(Diagnostic(
                at: .commandLine("--profile"),
                "the profile \(file) lies inside the read-write bind \(bind): the sandbox could rewrite it for the next run",
                hint: "keep profiles outside what the sandbox may write (for example in ~/.config/lpa-run/profiles)"))
        }
    }

    /// core is always first and always 0; the rest sorted by name.
    private func rlimits(_ document: ProfileDocument) -> [RlimitEntry] {
        var entries = [RlimitEntry(resource: "core", number: RlimitNames.numbers["core"]!, soft: 0, hard: 0,
                                   origin: document.rlimits["core"]?.position.origin)]
        for (name, value) in document.rlimits.sorted(by: { $0.key < $1.key }) where name != "core" {
            entries.append(RlimitEntry(resource: name, number: RlimitNames.numbers[name]!, soft: value.value.limit,
                                       hard: value.value.limit, origin: value.position.origin))
        }
        return entries
    }
}
