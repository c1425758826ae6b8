import Foundation
import Testing
@testable import LPAPolicy

/// The JSON Schema of profiles agrees with the parser: same keys, same choices, and the
/// checked-in docs/profile.schema.json is what `lpa-run schema` prints.
/// (check-jsonschema validating real profiles against it: LPASandboxTests/ProfileSchemaToolTests.)
struct ProfileSchemaTests {
    static let checkedIn = Fixture.repositoryRoot.appendingPathComponent("docs/profile.schema.json")

    /// The parser's diagnostics for one profile text (parsing only: no merge, no host).
    func parseErrors(_ text: String) -> [String] {
        let parser = ProfileParser(expander: VariableExpander(context: Fixture.context))
        return parser.parse(LoadedProfile(name: "p", path: "p.yaml", text: text)).1.map(\.message)
    }

    func schema() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(ProfileJSONSchema.text.utf8)) as? [String: Any])
    }

    /// The schema object of a dotted key path ("filesystem.home").
    func property(_ path: String, in schema: [String: Any]) throws -> [String: Any] {
        var node = schema
        for key in path.split(separator: ".") {
            let properties = try #require(node["properties"] as? [String: Any], "no properties above \(key)")
            node = try #require(properties[String(key)] as? [String: Any], "no key \(key) in \(path)")
        }
        return node
    }

    @Test("docs/profile.schema.json is what `lpa-run schema` prints (regenerate: lpa-run schema > docs/profile.schema.json)")
    func checkedInSchemaIsCurrent() throws {
        let file = try String(contentsOf: Self.checkedIn, encoding: .utf8)
        #expect(file == ProfileJSONSchema.text,
                "docs/profile.schema.json is stale: run `.build/debug/lpa-run schema > docs/profile.schema.json`")
    }

    @Test("the schema is valid JSON and draft-07, and rejects unknown keys at every level")
    func schemaIsClosed() throws {
        let schema = try schema()
        #expect(schema["$schema"] as? String == "http://json-schema.org/draft-07/schema#")
        #expect(schema["additionalProperties"] as? Bool == false)
        for section in ["network", "filesystem", "seccomp", "environment", "pins", "rlimits"] {
            #expect(try property(section, in: schema)["additionalProperties"] as? Bool == false, "\(section)")
        }
    }

    @Test("every key of the parser's table is in the schema with a description, and the schema has no other keys")
    func keysMatchTheParserTable() throws {
        #expect(ProfileJSONSchema.undocumentedKeys.isEmpty,
                "keys without a description and shape in KeyDocs.table (ProfileJSONSchema.swift): \(ProfileJSONSchema.undocumentedKeys)")
        let stale = Set(KeyDocs.table.keys).subtracting(ProfileJSONSchema.visitedKeys)
        #expect(stale.isEmpty, "KeyDocs.table describes keys the parser does not know: \(stale.sorted())")
        let schema = try schema()
        let top = try #require(schema["properties"] as? [String: Any])
        #expect(Set(top.keys) == Set(ProfileSchema.top))
        let filesystem = try #require(try property("filesystem", in: schema)["properties"] as? [String: Any])
        #expect(Set(filesystem.keys) == Set(ProfileSchema.filesystem))
        let rlimits = try #require(try property("rlimits", in: schema)["properties"] as? [String: Any])
        #expect(Set(rlimits.keys) == Set(RlimitNames.numbers.keys))
        for (path, doc) in try top.map({ ($0.key, try #require($0.value as? [String: Any])) }) {
            #expect((doc["description"] as? String)?.isEmpty == false, "\(path) has no description")
        }
    }

    /// YAML that sets `path` to `value` ("seccomp.default" → "seccomp:\n  default: v").
    func yaml(_ path: String, _ value: String) -> String {
        let parts = path.split(separator: ".")
        return parts.count == 1 ? "\(path): \(value)\n" : "\(parts[0]):\n  \(parts[1]): \(value)\n"
    }

    @Test("every choice the schema offers is accepted by the parser, and a value it does not offer is rejected",
          arguments: ["run-as", "landlock", "network.mode", "filesystem.home", "filesystem.cwd", "seccomp.default",
                      "seccomp.other-architectures", "seccomp.errno"])
    func choicesMatchTheParser(path: String) throws {
        let choices = try #require(try property(path, in: schema())["enum"] as? [String], "\(path) has no enum")
        #expect(!choices.isEmpty)
        for choice in choices {
            #expect(parseErrors(yaml(path, "\"\(choice)\"")).isEmpty, "the parser rejects \(path): \(choice)")
        }
        #expect(!parseErrors(yaml(path, "not-a-choice")).isEmpty)
    }

    @Test("namespaces, rule actions and argument ops offered by the schema are the ones the parser takes")
    func nestedChoicesMatchTheParser() throws {
        let schema = try schema()
        let namespaces = try #require(((try property("namespaces", in: schema)["anyOf"] as? [[String: Any]])?
            .first?["items"] as? [String: Any])?["enum"] as? [String])
        #expect(parseErrors("namespaces: [\(namespaces.joined(separator: ", "))]\n").isEmpty)
        let definitions = try #require(schema["definitions"] as? [String: Any])
        let rule = try #require(definitions["rule"] as? [String: Any])
        let actions = try #require(try property("action", in: rule)["enum"] as? [String])
        for action in actions {
            #expect(parseErrors("seccomp:\n  rules:\n    - {syscall: ptrace, action: \(action)}\n").isEmpty, "\(action)")
        }
        let argument = try #require(definitions["argument"] as? [String: Any])
        for op in try #require(try property("op", in: argument)["enum"] as? [String]) {
            let text = "seccomp:\n  rules:\n    - {syscall: ptrace, action: deny, args: [{index: 0, op: \(op), value: 1, mask: 1}]}\n"
            #expect(parseErrors(text).isEmpty, "\(op): \(parseErrors(text))")
        }
    }
}
