import Foundation
import Testing

/// The profile schema as editors and CI use it: check-jsonschema (PyPI, installed by
/// `make check-jsonschema`) validates real profiles against `lpa-run schema`, and
/// `lpa-run check --format json` reports what only lpa-run can tell.
@Suite("profile schema and check --format json")
struct ProfileSchemaToolTests {
    let runner = Runner(who: .caller)
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The check-jsonschema that `make check-jsonschema` installs; a test fails (never
    /// skips) without it.
    static func checkJSONSchema() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let cache = env["LPA_CACHE"] ?? ((env["XDG_CACHE_HOME"] ?? (env["HOME"] ?? "/root") + "/.cache") + "/lpa-run-dev")
        let path = env["LPA_CHECK_JSONSCHEMA"] ?? cache + "/check-jsonschema/venv/bin/check-jsonschema"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestFailure("check-jsonschema is missing (\(path)): run `make check-jsonschema`")
        }
        return path
    }

    /// The schema `lpa-run schema` prints, written to a file.
    func schemaFile(_ directory: String) throws -> String {
        let result = try runner.run(["schema"])
        #expect(result.status == 0, "\(result.stderr)")
        let path = directory + "/profile.schema.json"
        try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// check-jsonschema's verdict per file: the names it rejected (schema errors or YAML
    /// it could not parse).
    func rejected(_ files: [String], schema: String) throws -> Set<String> {
        let child = try Spawned([try Self.checkJSONSchema(), "--schemafile", schema, "-o", "json"] + files,
                                environment: ["PATH": "/usr/bin:/bin", "HOME": runner.home], cwd: "/")
        let (status, stdout, stderr) = child.finish(seconds: 120)
        #expect(status == 0 || status == 1, "check-jsonschema: \(status) \(stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], "\(stdout)\(stderr)")
        let errors = (report["errors"] as? [[String: Any]] ?? []) + (report["parse_errors"] as? [[String: Any]] ?? [])
        return Set(errors.compactMap { $0["filename"] as? String })
    }

    @Test("`lpa-run schema` prints docs/profile.schema.json")
    func schemaCommandPrintsTheCheckedInFile() throws {
        let result = try runner.run(["schema"])
        #expect(result.status == 0)
        let file = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("docs/profile.schema.json"), encoding: .utf8)
        #expect(result.stdout == file)
    }

    @Test("check-jsonschema accepts every built-in profile and the test fixtures' valid profiles")
    func builtinProfilesAreValid() throws {
        let directory = try TestDirectory(under: Binaries.shared.scratch, owner: getuid())
        defer { directory.remove() }
        let schema = try schemaFile(directory.path)
        let fm = FileManager.default
        var files: [String] = []
        for folder in ["profiles", "Tests/LPAPolicyTests/Fixtures/profiles"] {
            let dir = Self.repositoryRoot.appendingPathComponent(folder).path
            files += try fm.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted().map { dir + "/" + $0 }
        }
        #expect(files.count >= 10, "\(files)")
        #expect(try rejected(files, schema: schema).isEmpty)
    }

    /// Parser messages that say the profile's shape is wrong: a schema can tell those.
    /// The rest (undefined variables, unknown syscalls, conflicts between keys, a
    /// non-loopback publish that an option allows) only lpa-run check can.
    static let structural = ["unknown key", "must be a list", "must be a mapping", "must be true or false",
                             "must be one of", "bad size", "bad port", "connect address", "is not absolute",
                             "contains '..'", "bad sha256", "bad hostname", "needs 'path'", "bad mode",
                             "cannot be raised", "YAML:", "duplicate key"]

    @Test("check-jsonschema rejects the diagnostics tests' invalid profiles wherever the mistake is one of shape")
    func invalidFixturesAreRejected() throws {
        let source = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("Tests/LPAPolicyTests/DiagnosticTests.swift"),
                                encoding: .utf8)
        let fixtures = Self.profileLiterals(in: source)
        #expect(fixtures.count >= 15, "found only \(fixtures.count) fixtures in DiagnosticTests.swift")
        let directory = try TestDirectory(under: Binaries.shared.scratch, owner: getuid())
        defer { directory.remove() }
        let schema = try schemaFile(directory.path)
        var files: [String] = []
        for (index, text) in fixtures.enumerated() {
            let path = directory.path + "/fixture-\(index).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        let check = try runner.run(["check", "--format", "json"] + files)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any], "\(check.stdout)")
        let diagnostics = try #require(report["diagnostics"] as? [[String: Any]])
        let rejected = try rejected(files, schema: schema)
        var shapeErrors = 0
        for (file, text) in zip(files, fixtures) {
            let messages = diagnostics.filter { $0["checked"] as? String == file && $0["severity"] as? String == "error" }
                .compactMap { $0["message"] as? String }
            guard messages.contains(where: { m in Self.structural.contains { m.contains($0) } }) else { continue }
            shapeErrors += 1
            #expect(rejected.contains(file), "the schema accepts a profile lpa-run rejects for its shape: \(messages)\n\(text)")
        }
        #expect(shapeErrors >= 10, "only \(shapeErrors) fixtures have mistakes of shape")
    }

    @Test("check --format json gives file, line, column, severity, message and suggestion, and exits 1")
    func checkJSON() throws {
        let typo = Binaries.shared.profile(named: "check-json-typo", "description: typo\nnetwrok:\n  mode: none\n")
        let fine = Binaries.shared.profile(named: "check-json-ok", "description: fine\nextends: strict\n")
        let result = try runner.run(["check", "--format", "json", typo, fine])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        let files = try #require(report["files"] as? [[String: Any]])
        #expect(files.map { $0["valid"] as? Bool } == [false, true])
        let diagnostics = try #require(report["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.count == 1)
        let d = try #require(diagnostics.first)
        #expect(d["file"] as? String == typo)
        #expect(d["line"] as? Int == 2)
        #expect(d["column"] as? Int == 1)
        #expect(d["severity"] as? String == "error")
        #expect(d["message"] as? String == "unknown key 'netwrok' (did you mean 'network'?)")
        #expect(d["suggestion"] as? String == "network")

        let ok = try runner.run(["check", "--format", "json", fine])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("\"diagnostics\": []"), "\(ok.stdout)")
    }

    /// The Swift string literals of `source` that are profiles: one or more lines
    /// (they contain `\n`) and no diagnostic text.
    static func profileLiterals(in source: String) -> [String] {
        var result: [String] = []
        var chars = Array(source)
        chars.append("\0")
        var i = 0
        while i < chars.count - 1 {
            // Skip comments and multi-line literals: fixtures are single-line literals.
            if chars[i] == "/" && chars[i + 1] == "/" {
                while i < chars.count - 1 && chars[i] != "\n" { i += 1 }
                continue
            }
            guard chars[i] == "\"" else { i += 1; continue }
            if i + 2 < chars.count, chars[i + 1] == "\"", chars[i + 2] == "\"" {
                i += 3
                while i + 2 < chars.count && !(chars[i] == "\"" && chars[i + 1] == "\"" && chars[i + 2] == "\"") { i += 1 }
                i += 3
                continue
            }
            var text = ""
            var j = i + 1
            var interpolated = false
            while j < chars.count - 1 && chars[j] != "\"" {
                if chars[j] == "\\" {
                    let next = chars[j + 1]
                    switch next {
                    case "n": text.append("\n")
                    case "t": text.append("\t")
                    case "(": interpolated = true
                    default: text.append(next)
                    }
                    j += 2
                } else {
                    text.append(chars[j])
                    j += 1
                }
            }
            i = j + 1
            if text.contains("\n"), text.contains(":"), !interpolated, !text.contains("error:") { result.append(text) }
        }
        return result
    }
}
