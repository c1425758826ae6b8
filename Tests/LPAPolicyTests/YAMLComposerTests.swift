import Testing
@testable import LPAPolicy

/// The YAML front end (YAMLComposer over libyaml): what the readers relied on in Yams,
/// with the texts and positions Yams gave (each expected line below is what the
/// Yams-based lpa-run printed), and the bounds that keep hostile profiles cheap.
struct YAMLComposerTests {
    func all(_ text: String) -> [String] {
        Fixture.errors(text).map { "\($0.line):\($0.column): \($0.message)" }
    }

    @Test func syntaxErrorsKeepLibyamlsProblemAndPosition() {
        #expect(all("hostname: \"a\n") == ["2:1: YAML: found unexpected end of stream"])
        #expect(all("filesystem:\n  read-only: *nope\n") == ["2:14: YAML: found undefined alias"])
    }

    @Test func aProfileIsOneDocument() {
        #expect(all("hostname: a\n---\nhostname: b\n") == ["2:1: YAML: but found another document"])
    }

    @Test func forbiddenCharactersAreReportedAsYamsDid() {
        #expect(all("hostname: a\u{1}\n")
                == ["1:1: cannot parse YAML: 1:12: error: reader: control characters are not allowed:\nhostname: a\u{1}\n           ^"])
    }

    /// Red team: libyaml breaks lines at NEL, LS, PS and a lone CR, where a reviewer sees
    /// one comment line: `# reviewed<LS>network: {mode: host}` ran with the host network.
    @Test func lineBreaksAReviewerCannotSeeAreRefused() {
        for hidden in ["\u{2028}", "\u{2029}", "\u{85}", "\r"] {
            let errors = all("extends: builtin:strict  # reviewed\(hidden)network: {mode: host}\n")
            #expect(errors.count == 1 && errors[0].hasPrefix("1:36: YAML: "), "\(hidden.debugDescription): \(errors)")
        }
        #expect(all("hostname: a\r\n").isEmpty, "CRLF line ends stay fine")
        #expect(all("hostname: a\r").count == 1, "a CR at the very end is refused too")
    }

    @Test func duplicateKeyInAFlowMappingPointsAtTheFirst() {
        #expect(all("{hostname: a, hostname: b}\n") == ["1:2: duplicate key 'hostname'"])
        // Quoted and plain spellings are the same key (the search for the repeat looks
        // for the plain spelling, so this one too points at the first).
        #expect(all("hostname: a\n'hostname': b\n") == ["1:1: duplicate key 'hostname'"])
    }

    @Test func aQuotedTrueIsNotABoolean() {
        #expect(all("filesystem:\n  noswap: \"true\"\n") == ["2:11: 'noswap' must be true or false"])
        #expect(all("filesystem:\n  noswap: true\n").isEmpty)
    }

    @Test func aliasesReadAsWhatTheyName() throws {
        let node = try #require(try YAMLComposer.compose("x: &ro [/usr, /opt]\ny: *ro\n"))
        guard case .sequence(let items) = try #require(node["y"]) else { Issue.record("y is not a list"); return }
        #expect(items.map { $0.scalar?.string } == ["/usr", "/opt"])
        #expect(items.first?.mark == Node.Mark(line: 1, column: 9))
    }

    @Test func nestingIsBounded() throws {
        let deep = YAMLComposer.maxDepth
        #expect(throws: Never.self) { try YAMLComposer.compose(String(repeating: "[", count: deep) + String(repeating: "]", count: deep)) }
        let deeper = String(repeating: "[", count: deep + 1) + String(repeating: "]", count: deep + 1)
        #expect(throws: YAMLComposer.Failure.syntax(problem: "more than 1000 levels of nesting",
                                                    mark: Node.Mark(line: 1, column: deep + 1))) {
            try YAMLComposer.compose(deeper)
        }
    }

    /// A "billion laughs": seven levels of ten aliases would be 10^7 nodes to walk.
    @Test func aliasExpansionIsBounded() {
        var text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for (name, previous) in zip(["b", "c", "d", "e", "f", "g"], ["a", "b", "c", "d", "e", "f"]) {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
        }
        let errors = all(text)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("5:") == true)
        #expect(errors.first?.contains("more than 100000 nodes") == true)
    }

    @Test func sizeIsBounded() {
        let text = "description: " + String(repeating: "x", count: YAMLComposer.maxBytes) + "\n"
        #expect(all(text) == ["1:1: YAML: a profile may be at most 1 MiB, this one has \(text.utf8.count) bytes"])
    }

    @Test func emptyAndCommentOnlyTextsAreEmptyProfiles() throws {
        #expect(try YAMLComposer.compose("") == nil)
        #expect(try YAMLComposer.compose("# nothing\n") == nil)
        #expect(all("# nothing\n").isEmpty)
    }
}
