import Foundation
import Testing

/// What the outside review of the issue-11 fixes broke, each now refused, with a control
/// that shows the same setup works when nothing was planted. Links "planted by a
/// sandbox" are owned by the sandbox user, as a real earlier run would leave them.
@Suite("attacks found after issue 11", .serialized)
struct AttackRegressionTests {
    static func directory(_ name: String, _ runner: Runner, owner: uid_t) throws -> TestDirectory {
        let dir = try TestDirectory(under: Binaries.shared.scratch, owner: owner, mode: 0o755)
        _ = name
        return dir
    }

    static func profile(_ name: String, _ text: String) -> String { Binaries.shared.profile(named: name, text) }

    @Test("a bind through a link an earlier run planted is refused; the real path binds (control)",
          arguments: Runner.all)
    func plantedLinkInBindSource(runner: Runner) throws {
        let dir = try Self.directory("link", runner, owner: runner.sandboxUid)
        defer { dir.remove() }
        let secret = dir.path + "/secret"
        try "not for the sandbox\n".write(toFile: secret, atomically: true, encoding: .utf8)
        chmod(secret, 0o644)
        // The earlier run's doing: models/m.gguf -> the secret, owned by the sandbox user.
        try FileManager.default.createDirectory(atPath: dir.path + "/models", withIntermediateDirectories: true)
        chown(dir.path + "/models", runner.sandboxUid, runner.sandboxUid)
        let link = dir.path + "/models/m.gguf"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: secret)
        lchown(link, runner.sandboxUid, runner.sandboxUid)

        let control = try runner.run(["--model", secret, "/bin/cat", secret])
        #expect(control.status == 0 && control.stdout == "not for the sandbox\n", "\(control.stderr)")
        let planted = try runner.run(["--model", link, "/bin/cat", link])
        #expect(planted.status == 125, "\(planted.stdout)\(planted.stderr)")
        #expect(planted.stderr.contains("a symbolic link owned by uid \(runner.sandboxUid)"), "\(planted.stderr)")
        #expect(!planted.stdout.contains("not for the sandbox"))
    }

    @Test("a read-write bind over lpa-run's config is refused whether the directory exists or not; a narrower bind runs (control)",
          arguments: Runner.all)
    func readWriteConfigParent(runner: Runner) throws {
        let home = try Self.directory("home", runner, owner: runner.callerUid)
        defer { home.remove() }
        let config = home.path + "/.config"
        try FileManager.default.createDirectory(atPath: config + "/other", withIntermediateDirectories: true)
        chown(config, runner.sandboxUid, runner.sandboxUid)
        chown(config + "/other", runner.sandboxUid, runner.sandboxUid)
        let profile = Self.profile("rw-config-\(runner.who)", """
            extends: builtin:strict
            filesystem:
              read-write: ["\(config)"]
            """)
        // Missing: the sandbox would create it. Existing: the sandbox would rename its parent
        // (mv ~/.config ~/.config-old) and create a new one; the mask cannot follow.
        for existing in [false, true] {
            if existing { try FileManager.default.createDirectory(atPath: config + "/lpa-run", withIntermediateDirectories: true) }
            let script = "mkdir -p \(config)/lpa-run/profiles && echo planted > \(config)/lpa-run/profiles/strict.yaml"
            let refused = try runner.run(["--profile", profile, "/bin/sh", "-c", script], env: ["HOME": home.path])
            #expect(refused.status == 125, "existing \(existing): \(refused.stderr)")
            #expect(refused.stderr.contains("lpa-run's own configuration or cache"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: config + "/lpa-run/profiles/strict.yaml"))
        }
        // Control: a narrower read-write bind beside it runs and writes.
        let narrow = Self.profile("rw-config-narrow-\(runner.who)", """
            extends: builtin:strict
            filesystem:
              read-write: ["\(config)/other"]
            """)
        let control = try runner.run(["--profile", narrow, "/bin/sh", "-c", "echo ok > \(config)/other/x"],
                                     env: ["HOME": home.path])
        #expect(control.status == 0, "\(control.stderr)")
        #expect(FileManager.default.fileExists(atPath: config + "/other/x"))
    }

    @Test("a profile inside the agent's read-write project is refused; the same profile outside runs (control)",
          arguments: Runner.all)
    func profileInsideWritableProject(runner: Runner) throws {
        let project = try Self.directory("project", runner, owner: runner.sandboxUid)
        defer { project.remove() }
        let text = "extends: builtin:agent\n"
        let inside = project.path + "/lpa.yaml"
        try text.write(toFile: inside, atomically: true, encoding: .utf8)
        chmod(inside, 0o644)
        let refused = try runner.run(["--profile", inside, "/bin/true"], cwd: project.path)
        #expect(refused.status == 125, "\(refused.stderr)")
        #expect(refused.stderr.contains("lies inside the read-write bind"), "\(refused.stderr)")
        let outside = Self.profile("agent-outside-\(runner.who)", text)
        let control = try runner.run(["--profile", outside, "/bin/true"], cwd: project.path)
        #expect(control.status == 0, "\(control.stderr)")
    }

    @Test("the agent cannot write .git (config, hooks, commondir) nor rename it; it still writes the project (control)",
          arguments: Runner.all)
    func agentCannotArmGit(runner: Runner) throws {
        let project = try Self.directory("git", runner, owner: runner.sandboxUid)
        defer { project.remove() }
        let git = project.path + "/.git"
        try FileManager.default.createDirectory(atPath: git + "/hooks", withIntermediateDirectories: true)
        try "[core]\n".write(toFile: git + "/config", atomically: true, encoding: .utf8)
        for path in [git, git + "/hooks", git + "/config"] { chown(path, runner.sandboxUid, runner.sandboxUid) }
        let script = #"printf '\tfsmonitor = "id > /tmp/x"\n' >> .git/config; echo config=$?; "#
            + #"echo 'id' > .git/hooks/post-checkout; echo hook=$?; echo evil > .git/commondir; echo commondir=$?; "#
            + #"mv .git .git-old; echo rename=$?; echo ok > notes.txt; echo file=$?"#
        let result = try runner.run(["--profile", "agent", "/bin/sh", "-c", script], cwd: project.path)
        #expect(result.stdout.contains("config=1") || result.stdout.contains("config=2"), "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("hook=0"), "\(result.stdout)")
        #expect(!result.stdout.contains("commondir=0") && !result.stdout.contains("rename=0"), "\(result.stdout)")
        #expect(result.stdout.contains("file=0"), "\(result.stdout)\(result.stderr)")
        #expect(try String(contentsOfFile: git + "/config", encoding: .utf8) == "[core]\n")
        #expect(!FileManager.default.fileExists(atPath: git + "/hooks/post-checkout"))
    }

    @Test("--audit-log through a link an earlier run planted is refused; the real path is used (control)",
          arguments: Runner.all)
    func auditLogThroughPlantedLink(runner: Runner) throws {
        let dir = try Self.directory("log", runner, owner: runner.callerUid)
        defer { dir.remove() }
        let victim = dir.path + "/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        chown(victim, runner.callerUid, runner.callerUid)
        let logs = dir.path + "/logs"
        try FileManager.default.createSymbolicLink(atPath: logs, withDestinationPath: victim)
        lchown(logs, runner.sandboxUid, runner.sandboxUid)
        let refused = try runner.run(["--audit-log", logs + "/audit.jsonl", "/bin/true"])
        #expect(refused.status == 125, "\(refused.stderr)")
        #expect(refused.stderr.contains("a symbolic link owned by uid"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: victim + "/audit.jsonl"))
        let control = try runner.run(["--audit-log", victim + "/audit.jsonl", "/bin/true"])
        #expect(control.status == 0, "\(control.stderr)")
    }
}
