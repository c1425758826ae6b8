/// The plan as a Kubernetes Pod (core/v1), a NetworkPolicy (networking.k8s.io/v1) that
/// denies all egress and allows ingress only to published ports, a Service for those
/// ports, and the seccomp profile for `seccompProfile: {type: Localhost}`. The image
/// stands in for the host's read-only system directories.
enum KubernetesExport {
    /// Directories the image provides instead of read-only binds of the host's.
    static let systemDirectories: Set<String> = ["/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin", "/etc"]

    static func export(_ plan: IsolationPlan, label: String) -> ExportResult {
        var parity: [ParityRow] = []
        let name = "lpa-" + label
        let seccompFile = "seccomp-\(label).json"
        let localhostProfile = "lpa-run/" + seccompFile
        let seccomp = SeccompExport.profile(plan)
        let selector: ExportValue = .object([("app.kubernetes.io/name", .string(name))])
        let runsAsRoot = plan.identity.sandboxUid == 0

        // Volumes: every tmpfs but /dev as a memory emptyDir; binds that are not system
        // directories as hostPath volumes.
        var volumes: [ExportValue] = []
        var mounts: [ExportValue] = []
        var fromImage: [String] = []
        var hostPaths: [String] = []
        var hidden: [String] = []
        var devices: [String] = []
        var noswap = false
        for (index, entry) in plan.mounts.enumerated() {
            let volume = "v\(index)-" + ExportNames.label(entry.target)
            switch entry.kind {
            case .tmpfs where entry.target != "/dev":
                var emptyDir: [(String, ExportValue)] = [("medium", .string("Memory"))]
                if let size = entry.options.size { emptyDir.append(("sizeLimit", .string(String(size)))) }
                volumes.append(.object([("name", .string(volume)), ("emptyDir", .object(emptyDir))]))
                mounts.append(.object([("name", .string(volume)), ("mountPath", .string(entry.target))]))
                noswap = noswap || entry.options.noswap
            case .bind:
                guard let source = entry.source else { continue }
                if systemDirectories.contains(entry.target) && source == entry.target {
                    fromImage.append(entry.target)
                    continue
                }
                volumes.append(.object([("name", .string(volume)),
                                        ("hostPath", .object([("path", .string(source))]))]))
                mounts.append(.object([("name", .string(volume)), ("mountPath", .string(entry.target)),
                                       ("readOnly", .bool(entry.options.readOnly))]))
                hostPaths.append(entry.target)
            case .hide:
                if !entry.target.hasPrefix("/proc/") { hidden.append(entry.target) }
            case .device:
                if let source = entry.source, !["/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                                 "/dev/urandom", "/dev/tty"].contains(source) {
                    devices.append(source)
                }
            default:
                continue
            }
        }

        let executable = plan.command.executable ?? plan.command.argv.first ?? "/bin/false"
        var container: [(String, ExportValue)] = [
            ("name", .string("workload")),
            // The image is the one thing the plan cannot name: it replaces the host's /usr.
            ("image", .string("REPLACE-WITH-IMAGE@sha256:DIGEST")),
            ("command", .array([.string(executable)])),
            ("args", .array(plan.command.argv.dropFirst().map { .string($0) })),
            ("workingDir", .string(plan.workingDirectory)),
            ("env", .array(plan.environment.set.map { .object([("name", .string($0.name)), ("value", .string($0.value))]) })),
        ]
        if !plan.network.publish.isEmpty {
            container.append(("ports", .array(plan.network.publish.map { port in
                .object([("containerPort", .int(Int64(port.sandboxPort))), ("protocol", .string("TCP"))])
            })))
        }
        var capabilities: [(String, ExportValue)] = [("drop", .array([.string("ALL")]))]
        if !plan.capabilities.keep.isEmpty {
            capabilities.append(("add", .array(plan.capabilities.keep.map { .string($0.name.uppercased()) })))
        }
        container.append(("securityContext", .object([
            ("allowPrivilegeEscalation", .bool(!plan.noNewPrivs)),
            ("privileged", .bool(false)),
            ("capabilities", .object(capabilities)),
            ("readOnlyRootFilesystem", .bool(true)),
        ])))
        container.append(("volumeMounts", .array(mounts)))

        var podSecurity: [(String, ExportValue)] = [
            ("runAsUser", .uint(UInt64(plan.identity.sandboxUid))),
            ("runAsGroup", .uint(UInt64(plan.identity.sandboxGid))),
        ]
        if !runsAsRoot { podSecurity.append(("runAsNonRoot", .bool(true))) }
        podSecurity.append(("seccompProfile", .object([("type", .string("Localhost")),
                                                       ("localhostProfile", .string(localhostProfile))])))
        var spec: [(String, ExportValue)] = []
        if plan.namespaces.contains(.user) { spec.append(("hostUsers", .bool(false))) }
        spec += [
            ("automountServiceAccountToken", .bool(false)),
            ("enableServiceLinks", .bool(false)),
            ("shareProcessNamespace", .bool(false)),
            ("hostname", .string(ExportNames.label(plan.hostname))),
            ("securityContext", .object(podSecurity)),
            ("containers", .array([.object(container)])),
            ("volumes", .array(volumes)),
        ]
        if plan.network.mode == .host { spec.insert(("hostNetwork", .bool(true)), at: 0) }
        let metadata: ExportValue = .object([("name", .string(name)), ("labels", selector)])
        var documents: [ExportValue] = [.object([("apiVersion", .string("v1")), ("kind", .string("Pod")),
                                                 ("metadata", metadata), ("spec", .object(spec))])]

        // Deny all egress; ingress only to the published ports (no rule: none at all).
        var policySpec: [(String, ExportValue)] = [("podSelector", .object([("matchLabels", selector)])),
                                                   ("policyTypes", .array([.string("Ingress"), .string("Egress")]))]
        if !plan.network.publish.isEmpty {
            policySpec.append(("ingress", .array([.object([("ports", .array(plan.network.publish.map { port in
                .object([("protocol", .string("TCP")), ("port", .int(Int64(port.sandboxPort)))])
            }))])])))
        }
        policySpec.append(("egress", .array([])))
        documents.append(.object([("apiVersion", .string("networking.k8s.io/v1")), ("kind", .string("NetworkPolicy")),
                                  ("metadata", .object([("name", .string(name + "-isolate"))])),
                                  ("spec", .object(policySpec))]))
        if !plan.network.publish.isEmpty {
            documents.append(.object([
                ("apiVersion", .string("v1")), ("kind", .string("Service")),
                ("metadata", .object([("name", .string(name))])),
                ("spec", .object([
                    ("type", .string("ClusterIP")), ("selector", selector),
                    ("ports", .array(plan.network.publish.map { port in
                        .object([("name", .string("p\(port.hostPort)")), ("protocol", .string("TCP")),
                                 ("port", .int(Int64(port.hostPort))), ("targetPort", .int(Int64(port.sandboxPort)))])
                    })),
                ])),
            ]))
        }

        // Parity.
        parity.append(ParityRow("command", .approximate, "command \(executable): the image must have it at that path"))
        parity.append(ParityRow("environment", .approximate, "env: the plan's \(plan.environment.set.count) variables; "
                                    + "the kubelet still adds HOSTNAME and KUBERNETES_SERVICE_* (enableServiceLinks: "
                                    + "false drops the other services' variables)"))
        parity.append(ParityRow("workingDirectory", .exact, "workingDir \(plan.workingDirectory)"))
        parity.append(ParityRow("identity", .approximate,
                                "runAsUser \(plan.identity.sandboxUid)\(runsAsRoot ? "" : ", runAsNonRoot")"
                                    + (plan.namespaces.contains(.user) ? " in a user namespace (hostUsers: false); "
                                        + "the host uid is the kubelet's choice, not \(plan.identity.uid)" : "")))
        parity.append(ParityRow("namespaces", plan.namespaces.contains(.user) ? .exact : .approximate,
                                "every pod has its own mount, pid, net, ipc, uts and (cgroup v2) cgroup namespaces; "
                                    + "user: hostUsers: false (needs Kubernetes 1.33+ or the UserNamespacesSupport gate)"))
        parity.append(ParityRow("capabilities", .exact, "capabilities.drop: [ALL]"
                                    + (plan.capabilities.keep.isEmpty ? "" : ", add: the plan's")))
        parity.append(ParityRow("noNewPrivs", .exact, "allowPrivilegeEscalation: false"))
        parity.append(ParityRow("root", .approximate, "readOnlyRootFilesystem: true over the image: the image's own files "
                                    + "are visible, not only the plan's mounts"))
        parity.append(ParityRow("system directories", .approximate,
                                "read-only binds of " + fromImage.joined(separator: ", ")
                                    + " come from the image: build it from the same distribution and pin it by digest"))
        if !hostPaths.isEmpty {
            parity.append(ParityRow("host binds", .approximate,
                                    "hostPath volumes (" + hostPaths.joined(separator: ", ") + "): the files must exist at "
                                        + "the same path on every node; for models prefer a PersistentVolume or an image "
                                        + "volume, mounted readOnly"))
        }
        parity.append(ParityRow("tmpfs", .exact, "emptyDir medium: Memory with the plan's sizeLimit (home, caches, "
                                    + "/tmp, /run, /dev/shm)"))
        if noswap {
            parity.append(ParityRow("tmpfs noswap", .none,
                                    "memory-backed emptyDir can be swapped where the node has swap: keep swap off on the "
                                        + "nodes (the kubelet's default) or set memorySwap.swapBehavior: NoSwap"))
        }
        if !hidden.isEmpty {
            parity.append(ParityRow("hidden paths", .none, "a pod cannot hide a file of its image: build the image "
                                        + "without " + hidden.joined(separator: ", ")))
        }
        parity.append(ParityRow("/proc protections", .approximate, "the runtime's default masked and read-only /proc "
                                    + "paths (procMount: Default) cover kcore, keys, timer_list, sched_debug, sys, "
                                    + "sysrq-trigger; check your runtime's list"))
        if !devices.isEmpty {
            parity.append(ParityRow("devices", .none, "request the device plugin's resource (for example "
                                        + "nvidia.com/gpu) instead of " + devices.joined(separator: ", ")))
        }
        for limit in plan.rlimits {
            parity.append(ParityRow("rlimit \(limit.resource)", .none, "Pod specs have no rlimits: set it in the image's "
                                        + "entrypoint (ulimit) or the node runtime's default rlimits"))
        }
        parity.append(ParityRow("hostname", .exact, "hostname \(ExportNames.label(plan.hostname))"))
        switch plan.network.mode {
        case .none:
            parity.append(ParityRow("network.mode", .approximate,
                                    "the pod has an interface besides lo; NetworkPolicy \(name)-isolate denies all "
                                        + "egress and all ingress but the published ports. The cluster must run a CNI that "
                                        + "enforces NetworkPolicy (Calico, Cilium, ...): with Flannel alone it is ignored"))
        case .host:
            parity.append(ParityRow("network.mode", .exact, "hostNetwork: true"))
        }
        for port in plan.network.publish {
            parity.append(ParityRow("publish \(port.hostAddress):\(port.hostPort)->\(port.sandboxPort)", .approximate,
                                    "Service \(name) port \(port.hostPort) -> \(port.sandboxPort): reachable from the "
                                        + "cluster, not only from \(port.hostAddress); narrow the NetworkPolicy's ingress"))
        }
        for endpoint in plan.network.connect {
            parity.append(ParityRow("connect \(endpoint.hostAddress):\(endpoint.hostPort)", .none,
                                    "a pod cannot reach the node's loopback: run the endpoint as a Service and add an "
                                        + "egress rule for it"))
        }
        // Unix-socket endpoints (`-p unix:`, `--connect unix:`) are relayed by lpa-run
        // itself: no target has that relay, so each gets its own row, never a silent drop.
        for socket in plan.network.publishSockets {
            parity.append(ParityRow("publish unix:\(socket.hostPath) -> sandbox :\(socket.sandboxPort)", .none,
                                  "publish the port over TCP on loopback instead, and put a unix-socket proxy in front"))
        }
        for socket in plan.network.connectSockets {
            parity.append(ParityRow("connect unix:\(socket.hostPath)", .none,
                                  "a pod cannot reach a socket on the node: serve it as a Service, or mount its directory (which exposes more than one socket)"))
        }
        parity.append(ParityRow("seccomp file", .approximate,
                                "the cluster must provide \(seccompFile) on every node as "
                                    + "<kubelet root>/seccomp/\(localhostProfile) (or use the Security Profiles Operator)"))
        parity += seccomp.parity
        parity += CommonParity.rows(plan, landlock: "Kubernetes has no Landlock field: add it inside the image",
                                    pins: "pin the image by digest and ship models in an image or a volume checked "
                                        + "before use (lpa-run hash)")

        let header = "# lpa-run export --to kubernetes: profile \(plan.profile.chain.first?.name ?? label)"
            + (plan.profile.digest.isEmpty ? "" : " (\(plan.profile.digest))") + "\n"
            + "# Set the image, copy \(seccompFile) to /var/lib/kubelet/seccomp/\(localhostProfile) on every node,\n"
            + "# and read the parity table: what is not exact is said there.\n"
        let yaml = header + documents.map { "---\n" + $0.yaml() }.joined()
        return ExportResult(target: .kubernetes,
                            files: [ExportFile(name: "kubernetes.yaml", contents: yaml),
                                    ExportFile(name: seccompFile, contents: seccomp.json.json())],
                            directories: [], parity: parity)
    }
}
