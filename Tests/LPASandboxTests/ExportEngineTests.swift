import Foundation
import Testing

/// `lpa-run export` proven by the engines that run fleets: crun runs the exported OCI
/// bundle of `strict` with lpa-probe inside and gives the run's verdicts, runc loads the
/// same seccomp JSON, kubernetes-validate (strict, offline schemas) accepts every
/// Kubernetes export, systemd-analyze verifies every unit without a warning and scores
/// the strict unit. The tools come from `make deps`; a missing one fails, never skips.
@Suite(.serialized)
struct ExportEngineTests {
    /// The exposure `systemd-analyze security --offline=true` gives the exported strict
    /// unit: 0.8, "SAFE", the lowest band (docs/export.md says what keeps it above 0).
    static let strictExposureCeiling = 0.8

    static func tool(_ name: String) -> String? {
        var candidates = ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"].map { $0 + name }
        if name == "kubernetes-validate" {
            let environment = ProcessInfo.processInfo.environment
            let cache = environment["LPA_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
                ?? (environment["XDG_CACHE_HOME"].map { $0 + "/lpa-run-dev" } ?? NSHomeDirectory() + "/.cache/lpa-run-dev")
            candidates = [cache + "/venv-tools/bin/kubernetes-validate"]
        }
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        if found == nil { Issue.record("\(name) is missing (looked at \(candidates.joined(separator: ", "))): run `make deps`") }
        return found
    }

    static func run(_ argv: [String], seconds: Double = 60) throws -> Runner.Result {
        let child = try Spawned(argv, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], cwd: "/")
        let (status, stdout, stderr) = child.finish(seconds: seconds)
        return Runner.Result(status: status, stdout: stdout, stderr: stderr)
    }

    /// A directory of this test's own, removed afterwards (outside every bind).
    static func workspace(_ name: String) throws -> String {
        let path = "/tmp/lpa-export-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o755)
        return path
    }

    static let root = Runner(who: .caller)

    /// `lpa-run export --to oci` of strict with lpa-probe ARGS, run by crun; returns its output.
    static func crun(_ probeArguments: [String], in directory: String, name: String) throws -> Runner.Result {
        let bundle = directory + "/" + name
        let export = try root.run(["export", "--to", "oci", "-o", bundle, Binaries.shared.probe] + probeArguments)
        #expect(export.status == 0, "export: \(export.stderr)")
        guard let crun = tool("crun") else { return Runner.Result(status: -1, stdout: "", stderr: "") }
        // --cgroup-manager=disabled: the plan sets no cgroup limit. On a host with controllers
        // in a cgroup2 hierarchy beside v1 ("hybrid"), crun refuses to start; unmounting that
        // hierarchy in a mount namespace of crun's own (nothing else sees it) avoids that.
        let script = "umount /sys/fs/cgroup/unified 2>/dev/null; exec \(crun) --cgroup-manager=disabled "
            + "run -b '\(bundle)' lpa-export-\(getpid())-\(name)"
        return try run(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script])
    }

    @Test func crunRunsTheStrictBundleWithTheRunsVerdicts() throws {
        guard Runner.isRoot else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "CI runs as root: crun must run here")
            return
        }
        let directory = try Self.workspace("crun")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        // Escape-class syscalls, socket families, TIOCSTI (also with the high bits set),
        // clone flags, int $0x80: the same verdict row by row.
        let lpa = try Self.root.probe(["syscalls"]).fields
        let bundle = try Self.crun(["syscalls"], in: directory, name: "syscalls")
        #expect(bundle.status == 0, "crun: \(bundle.stderr)")
        #expect(lpa.count >= 29)
        for (row, verdict) in lpa { #expect(bundle.fields[row] == verdict, "syscalls row \(row) under crun") }

        // Every argument -1: an ioctl request of all ones must pass the TIOCSTI rules
        // (EBADF, not EPERM): a mask and datum swapped in the JSON would deny it, as
        // libseccomp folds the datum into the mask; socket, socketpair, clone, personality too.
        let numbered = ["nr", "16", "41", "53", "56", "135"]
        let lpaNumbered = try Self.root.probe(numbered).fields
        let crunNumbered = try Self.crun(numbered, in: directory, name: "numbered")
        #expect(lpaNumbered["nr-16"] == "EBADF")
        #expect(lpaNumbered.count == 5)
        for (row, verdict) in lpaNumbered { #expect(crunNumbered.fields[row] == verdict, "row \(row) under crun") }

        // Capabilities empty, no_new_privs, seccomp mode 2, only lo, hostname, ids, core limit.
        let status = try Self.crun(["status"], in: directory, name: "status")
        #expect(status.status == 0, "crun: \(status.stderr)")
        let lpaStatus = try Self.root.probe(["status"]).fields
        for row in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "uid", "gid",
                    "hostname", "interfaces", "cwd", "core-limit"] {
            #expect(status.fields[row] != nil && status.fields[row] == lpaStatus[row], "status row \(row) under crun")
        }
        #expect(status.fields["CapEff"] == "0000000000000000" && status.fields["Seccomp"] == "2")
        #expect(status.fields["interfaces"] == "lo")
        // Rows the OCI form does not carry (lpa-run's own init is pid 1; the runtime has
        // none): reported, not failed.
        for row in ["pid", "ppid", "processes", "fds"] where status.fields[row] != lpaStatus[row] {
            print("export: status row \(row) differs (not expressible): "
                  + "lpa-run \(lpaStatus[row] ?? "-"), crun \(status.fields[row] ?? "-")")
        }

        // The home is a tmpfs: a canary in the caller's home is not there.
        let canary = Self.root.home + "/export-canary"
        try "secret".write(toFile: canary, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: canary) }
        let lpaHome = try Self.root.probe(["read", canary]).fields["read"]
        let home = try Self.crun(["read", canary], in: directory, name: "home")
        #expect(home.fields["read"] == "ENOENT" && home.fields["read"] == lpaHome, "home canary: \(home.stdout)\(home.stderr)")

        // tmpfs writes are gone after exit: written in one run, absent in the next.
        let write = try Self.crun(["write", "/tmp/export-left-behind"], in: directory, name: "write")
        #expect(write.fields["write"] == "ok", "write: \(write.stdout)\(write.stderr)")
        let read = try Self.crun(["read", "/tmp/export-left-behind"], in: directory, name: "read")
        #expect(read.fields["read"] == "ENOENT", "read after exit: \(read.stdout)\(read.stderr)")
        // Nothing of the system is writable.
        let system = try Self.crun(["write", "/etc/export-probe"], in: directory, name: "etc")
        let lpaSystem = try Self.root.probe(["write", "/etc/export-probe"]).fields["write"]
        #expect(system.fields["write"] != "ok" && system.fields["write"] == lpaSystem)
        // Hidden paths (maskedPaths): a directory is an empty tmpfs, as in the run. A file
        // is /dev/null there, so open succeeds on an empty file where lpa-run refuses it
        // (EACCES): the parity table says "approximate", and this is reported.
        let ssh = try Self.crun(["ls", "/etc/ssh"], in: directory, name: "ssh")
        #expect(ssh.status == 0 && ssh.stdout.isEmpty, "/etc/ssh under crun: \(ssh.stdout)\(ssh.stderr)")
        let shadow = try Self.crun(["read", "/etc/shadow"], in: directory, name: "shadow")
        let lpaShadow = try Self.root.probe(["read", "/etc/shadow"]).fields["read"]
        #expect(lpaShadow == "EACCES")
        print("export: hidden file /etc/shadow: lpa-run \(lpaShadow ?? "-"), "
              + "crun \(shadow.fields["read"] ?? "-") (/dev/null, empty)")
    }

    /// runc, the second consumer of the seccomp JSON. runc 1.1 refuses a user namespace
    /// that does not map container root, and the plan maps one id (the sandbox user); so
    /// this copy of the bundle also maps container root to an unused unprivileged host id
    /// and leaves /dev/tty to runc (which makes it). The seccomp section is untouched.
    @Test func runcLoadsTheSameSeccompProfile() throws {
        guard Runner.isRoot else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "CI runs as root: runc must run here")
            return
        }
        guard let runc = Self.tool("runc") else { return }
        let directory = try Self.workspace("runc")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bundle = directory + "/bundle"
        let export = try Self.root.run(["export", "--to", "oci", "-o", bundle, Binaries.shared.probe, "syscalls"])
        #expect(export.status == 0, "export: \(export.stderr)")
        let url = URL(fileURLWithPath: bundle + "/config.json")
        var config = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var linux = try #require(config["linux"] as? [String: Any])
        let seccomp = try JSONSerialization.data(withJSONObject: linux["seccomp"] ?? [:], options: .sortedKeys)
        for key in ["uidMappings", "gidMappings"] {
            linux[key] = [["containerID": 0, "hostID": 100_000, "size": 1]] + (linux[key] as? [[String: Any]] ?? [])
        }
        config["linux"] = linux
        config["mounts"] = (config["mounts"] as? [[String: Any]])?.filter { $0["destination"] as? String != "/dev/tty" }
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let reread = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let rewritten = try JSONSerialization.data(withJSONObject: (reread["linux"] as? [String: Any])?["seccomp"] ?? [:],
                                                   options: .sortedKeys)
        #expect(rewritten == seccomp)

        let result = try Self.run([runc, "run", "-b", bundle, "lpa-export-\(getpid())"])
        #expect(result.status == 0, "runc: \(result.stderr)")
        let lpa = try Self.root.probe(["syscalls"]).fields
        for (row, verdict) in lpa { #expect(result.fields[row] == verdict, "syscalls row \(row) under runc") }
    }

    /// The built-in profiles, as `lpa-run profiles` lists them.
    static func builtinProfiles() throws -> [String] {
        let listing = try root.run(["profiles"])
        #expect(listing.status == 0)
        let names = listing.stdout.split(separator: "\n").filter { $0.contains("[builtin:") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(names.count >= 8, "lpa-run profiles: \(listing.stdout)")
        return names
    }

    @Test func everyBuiltinExportsToEveryTarget() throws {
        let directory = try Self.workspace("all")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard let validate = Self.tool("kubernetes-validate"), let analyze = Self.tool("systemd-analyze") else { return }
        for profile in try Self.builtinProfiles() {
            for target in ["oci", "seccomp", "kubernetes", "systemd"] {
                let out = "\(directory)/\(profile)/\(target)"
                let result = try Self.root.run(["export", "--to", target, "--profile", profile, "-p", "8080:8080",
                                                "-o", out, Binaries.shared.probe, "echo-server", "8080"])
                #expect(result.status == 0, "\(profile) --to \(target): \(result.stderr)")
                #expect(result.stderr.contains("parity (\(target)):"), "\(profile) --to \(target): no parity table")
            }
            // Kubernetes: strict validation (unknown fields are errors) against the schemas
            // kubernetes-validate ships, offline.
            let manifests = "\(directory)/\(profile)/kubernetes/kubernetes.yaml"
            let k8s = try Self.run([validate, "--strict", manifests])
            #expect(k8s.status == 0 && !k8s.stdout.contains("ERROR") && !k8s.stderr.contains("ERROR"),
                    "kubernetes-validate \(profile): \(k8s.stdout)\(k8s.stderr)")
            #expect(k8s.stdout.contains("pod/lpa-\(profile)") || k8s.stderr.contains("pod/lpa-\(profile)"),
                    "kubernetes-validate saw no Pod: \(k8s.stdout)\(k8s.stderr)")
            // systemd: verify exits 0 on unknown keys, so any line it prints is a failure.
            let units = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(profile)/systemd")
                .filter { $0.hasSuffix(".service") || $0.hasSuffix(".socket") }.sorted()
            #expect(units.count == 3, "\(profile): \(units)")
            let verify = try Self.run([analyze, "verify"] + units.map { "\(directory)/\(profile)/systemd/\($0)" })
            #expect(verify.status == 0 && verify.stdout.isEmpty && verify.stderr.isEmpty,
                    "systemd-analyze verify \(profile): \(verify.stdout)\(verify.stderr)")
        }
    }

    @Test func strictUnitIsInTheLowestExposureBand() throws {
        let directory = try Self.workspace("security")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard let analyze = Self.tool("systemd-analyze") else { return }
        let export = try Self.root.run(["export", "--to", "systemd", "-o", directory, Binaries.shared.probe, "status"])
        #expect(export.status == 0, "export: \(export.stderr)")
        let security = try Self.run([analyze, "security", "--offline=true", "--no-pager", directory + "/lpa-strict.service"])
        let text = security.stdout + security.stderr
        let line = try #require(text.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(text)")
        // "→ Overall exposure level for lpa-strict.service: 0.8 SAFE 😀" (":-}" without UTF-8).
        let after = line.components(separatedBy: ".service: ").last ?? ""
        let score = try #require(after.split(separator: " ").first.flatMap { Double($0) },
                                 "cannot read the score in: \(line)")
        print("export: systemd-analyze security: \(line)")
        #expect(score <= Self.strictExposureCeiling, "exposure \(score) above \(Self.strictExposureCeiling): \(text)")
        #expect(line.contains("SAFE"))
    }

    @Test func weakerExportsFailOnRequestAndTablesComeAsJSON() throws {
        let directory = try Self.workspace("cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // strict has Landlock, which OCI cannot express: --fail-on-weaker exits 1.
        let weaker = try Self.root.run(["export", "--to", "oci", "--fail-on-weaker", "-o", directory + "/oci",
                                        Binaries.shared.probe, "status"])
        #expect(weaker.status == 1, "\(weaker.stderr)")
        #expect(weaker.stderr.contains("NOT EXPRESSIBLE") && weaker.stderr.contains("--fail-on-weaker"))
        #expect(FileManager.default.fileExists(atPath: directory + "/oci/config.json"))
        // One file goes to stdout; the table to stderr, as JSON with --format json.
        let seccomp = try Self.root.run(["export", "--to", "seccomp", "--format", "json", Binaries.shared.probe, "status"])
        #expect(seccomp.status == 0, "\(seccomp.stderr)")
        let profile = try JSONSerialization.jsonObject(with: Data(seccomp.stdout.utf8)) as? [String: Any]
        #expect(profile?["defaultAction"] as? String == "SCMP_ACT_ALLOW")
        let table = try JSONSerialization.jsonObject(with: Data(seccomp.stderr.utf8)) as? [String: Any]
        #expect(table?["target"] as? String == "seccomp")
        // Only the other-architectures action is approximate (kill-thread for kill-process).
        let rows = table?["rows"] as? [[String: String]] ?? []
        #expect(rows.filter { $0["level"] != "exact" }.map { $0["setting"] } == ["seccomp.otherArchitectures"])
        // Several files need a directory; a bad target is named.
        let noDirectory = try Self.root.run(["export", "--to", "kubernetes", Binaries.shared.probe, "status"])
        #expect(noDirectory.status == 125 && noDirectory.stderr.contains("give -o DIR"))
        let badTarget = try Self.root.run(["export", "--to", "docker", Binaries.shared.probe])
        #expect(badTarget.status == 125 && badTarget.stderr.contains("use oci, seccomp, kubernetes, systemd"))
        let help = try Self.root.run(["export", "--help"])
        #expect(help.status == 0 && help.stdout.contains("parity table"))
    }
}
