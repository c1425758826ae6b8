import CYAML

/// Builds `Node`s from libyaml's event parser: the one YAML front end of the compiler.
/// It replaces Yams, whose resolver and constructor brought Foundation's ICU (~35 MB,
/// ~1 ms of start-up) into the binary although profiles are read with the basic
/// resolver. It keeps what the readers and diagnostics relied on in Yams: 1-based
/// marks at each node's start event, scalar styles, explicit tags, aliases resolved
/// (an alias shares the storage of the node its anchor names), one document, duplicate
/// keys as an error, and libyaml's own problem texts.
///
/// Profiles are hostile input (anything a sandbox could write may end up read as one),
/// so the composer is iterative (no recursion on the input's depth) and bounded: the
/// text's size, the nesting depth, and the node count with every alias counted as a
/// copy of what it names (a "billion laughs" document is refused, not walked).
enum YAMLComposer {
    static let maxBytes = 1 << 20
    static let maxDepth = 1000
    static let maxNodes = 100_000

    enum Failure: Error, Equatable {
        /// libyaml's scanner or parser, or a bound of ours: the problem at a position.
        case syntax(problem: String, mark: Node.Mark)
        /// A key repeated in one mapping; `first` is the first occurrence.
        case duplicateKey(key: String, first: Node.Mark)
        /// What Yams printed for libyaml's reader errors (characters YAML forbids) and
        /// for allocation failures: a description of its own, placed at 1:1.
        case unreadable(String)
    }

    /// The document's root node; nil for a text without a document (empty, comments).
    static func compose(_ text: String) throws(Failure) -> Node? {
        if text.utf8.count > maxBytes {
            throw .syntax(problem: "a profile may be at most \(maxBytes >> 20) MiB, this one has \(text.utf8.count) bytes",
                          mark: Node.Mark(line: 1, column: 1))
        }
        if text.isEmpty { return nil }
        try refuseHiddenLineBreaks(text)
        var copy = text
        return try copy.withUTF8 { bytes in Result { () throws(Failure) in try compose(bytes, text: text) } }.get()
    }

    /// An open collection.
    /// libyaml (YAML 1.1) breaks lines at NEL, LS and PS and at a CR alone, where `cat`,
    /// editors, diffs and YAML 1.2 tools show one line: `# reviewed<U+2028>network: …` is a
    /// comment to a reviewer and a setting to the parser (red team). A profile is what
    /// its reviewer reads, so those breaks are refused, at their position; CRLF is fine.
    private static func refuseHiddenLineBreaks(_ text: String) throws(Failure) {
        var line = 1, column = 1
        var previousCR = false
        for scalar in text.unicodeScalars {
            if previousCR && scalar != "\n" {
                throw .syntax(problem: "a carriage return that does not end a line (CR without LF): terminals and reviewers do not see the line break YAML sees",
                              mark: Node.Mark(line: line, column: column - 1))
            }
            switch scalar.value {
            case 0x85, 0x2028, 0x2029:
                let name = scalar.value == 0x85 ? "NEL (U+0085)" : scalar.value == 0x2028 ? "LINE SEPARATOR (U+2028)" : "PARAGRAPH SEPARATOR (U+2029)"
                throw .syntax(problem: "\(name) breaks the line for YAML but not for editors, terminals or reviewers; use a newline",
                              mark: Node.Mark(line: line, column: column))
            default: break
            }
            previousCR = scalar == "\r"
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        if previousCR {
            throw .syntax(problem: "a carriage return that does not end a line (CR without LF): terminals and reviewers do not see the line break YAML sees",
                          mark: Node.Mark(line: line, column: column - 1))
        }
    }

    private struct Frame {
        var isMapping: Bool
        var tag: String?
        var anchor: String?
        var mark: Node.Mark
        var nodes: [Node] = []
        var pairs: [(key: Node, value: Node)] = []
        var pendingKey: Node?
        var size = 1
    }

    private static func compose(_ bytes: UnsafeBufferPointer<UInt8>, text: String) throws(Failure) -> Node? {
        // libyaml's parser points at itself (its read handler's data): it must not move.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else { throw .unreadable("Memory error") }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, bytes.baseAddress, bytes.count)

        var stack: [Frame] = []
        var anchors: [String: Node] = [:]
        var root: Node?
        var documents = 0
        var nodes = 0

        func add(_ node: Node) {
            guard !stack.isEmpty else { root = node; return }
            let top = stack.count - 1
            stack[top].size += node.expandedSize
            if !stack[top].isMapping {
                stack[top].nodes.append(node)
            } else if let key = stack[top].pendingKey {
                stack[top].pairs.append((key, node))
                stack[top].pendingKey = nil
            } else {
                stack[top].pendingKey = node
            }
        }
        func count(_ added: Int, at mark: Node.Mark) throws(Failure) {
            nodes += added
            if nodes > maxNodes {
                throw .syntax(problem: "the document has more than \(maxNodes) nodes, counting each alias as a copy of what it names",
                              mark: mark)
            }
        }

        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else { throw failure(of: parser.pointee, text: text) }
            defer { yaml_event_delete(&event) }
            let mark = Node.Mark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
            switch event.type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
                continue
            case YAML_STREAM_END_EVENT:
                return root
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                // Yams' message: a profile is one document.
                if documents > 1 { throw .syntax(problem: "but found another document", mark: mark) }
            case YAML_ALIAS_EVENT:
                let name = string(event.data.alias.anchor) ?? ""
                guard let node = anchors[name] else { throw .syntax(problem: "found undefined alias", mark: mark) }
                try count(node.expandedSize, at: mark)
                add(node)
            case YAML_SCALAR_EVENT:
                try count(1, at: mark)
                let s = event.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                let scalar = Node.Scalar(string: value, style: style(s.style),
                                         tag: s.quoted_implicit == 1 ? Node.stringTag : string(s.tag), mark: mark)
                if let anchor = string(s.anchor) { anchors[anchor] = .scalar(scalar) }
                add(.scalar(scalar))
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                try count(1, at: mark)
                guard stack.count < maxDepth else {
                    throw .syntax(problem: "more than \(maxDepth) levels of nesting", mark: mark)
                }
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let start = event.data.sequence_start
                let tag = isMapping ? (event.data.mapping_start.implicit != 0 ? nil : string(event.data.mapping_start.tag))
                                    : (start.implicit != 0 ? nil : string(start.tag))
                let anchor = isMapping ? string(event.data.mapping_start.anchor) : string(start.anchor)
                stack.append(Frame(isMapping: isMapping, tag: tag, anchor: anchor, mark: mark))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                // libyaml 0.2.5 can end a flow mapping with a sequence end (`[ ? ]`,
                // fixed after 0.2.5): refuse what does not nest instead of trusting it.
                let isMapping = event.type == YAML_MAPPING_END_EVENT
                guard let frame = stack.popLast(), frame.isMapping == isMapping, frame.pendingKey == nil else {
                    throw .syntax(problem: "did not find expected ',' or '\(isMapping ? "}" : "]")'", mark: mark)
                }
                let node: Node
                if isMapping {
                    try checkDuplicates(frame.pairs)
                    node = .mapping(Node.Mapping(pairs: frame.pairs, tag: frame.tag, mark: frame.mark, expandedSize: frame.size))
                } else {
                    node = .sequence(Node.Sequence(nodes: frame.nodes, tag: frame.tag, mark: frame.mark, expandedSize: frame.size))
                }
                if let anchor = frame.anchor { anchors[anchor] = node }
                add(node)
            default:
                throw .syntax(problem: "unexpected event \(event.type.rawValue)", mark: mark)
            }
        }
    }

    /// Yams reported the duplicated key that sorts first, at its first occurrence.
    private static func checkDuplicates(_ pairs: [(key: Node, value: Node)]) throws(Failure) {
        guard pairs.count > 1 else { return }
        var seen: [Node.Key: Int] = [:]
        var repeated: [Int] = []
        for (index, pair) in pairs.enumerated() {
            if let first = seen[Node.Key(node: pair.key)] {
                repeated.append(first)
            } else {
                seen[Node.Key(node: pair.key)] = index
            }
        }
        guard !repeated.isEmpty else { return }
        let firsts = repeated.map { pairs[$0].key }
        let key = firsts.filter { $0.scalar != nil }.min { $0.scalar!.string < $1.scalar!.string } ?? firsts[0]
        throw .duplicateKey(key: key.scalar?.string ?? "<uncovertable>", first: key.mark)
    }

    private static func style(_ style: yaml_scalar_style_t) -> Node.Scalar.Style {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        default: .plain
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(decoding: UnsafeBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) }
    }

    private static func failure(of parser: yaml_parser_t, text: String) -> Failure {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        switch parser.error {
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR, YAML_COMPOSER_ERROR:
            return .syntax(problem: problem, mark: Node.Mark(line: Int(parser.problem_mark.line) + 1,
                                                             column: Int(parser.problem_mark.column) + 1))
        case YAML_READER_ERROR:
            return .unreadable(readerDescription(problem: problem, offset: parser.problem_offset,
                                                 value: parser.problem_value, text: text))
        default:
            return .unreadable("Memory error")
        }
    }

    /// Yams' text for a reader error: "LINE:COLUMN: error: reader: PROBLEM:" and the
    /// line with a caret under the character (lines end at \n, \r, \r\n, U+0085, U+2028
    /// or U+2029; the column counts UTF-16 units), or the byte offset when it falls
    /// inside a character.
    static func readerDescription(problem: String, offset: Int, value: Int32, text: String) -> String {
        let utf8 = text.utf8
        guard let byteIndex = utf8.index(utf8.startIndex, offsetBy: offset, limitedBy: utf8.endIndex),
              let index = byteIndex.samePosition(in: text) else {
            return "\(problem) at offset: nil, value: \(value)"
        }
        var lineStart = text.startIndex
        var line = 0
        var cursor = text.startIndex
        var lineEnd = text.endIndex
        while cursor < text.endIndex {
            let character = text[cursor]
            cursor = text.index(after: cursor)
            guard ["\n", "\r", "\r\n", "\u{85}", "\u{2028}", "\u{2029}"].contains(character) else { continue }
            if cursor <= index, cursor < text.endIndex {
                line += 1
                lineStart = cursor
            } else {
                lineEnd = cursor
                break
            }
        }
        let contents = text[lineStart..<lineEnd]
        let column = text.utf16.distance(from: lineStart, to: index)
        let endsWithNewline = contents.unicodeScalars.last.map {
            (0x0a...0x0d).contains($0.value) || [0x85, 0x2028, 0x2029].contains($0.value)
        } ?? false
        return "\(line + 1):\(column + 1): error: reader: \(problem):\n" + contents + (endsWithNewline ? "" : "\n")
            + String(repeating: " ", count: column) + "^"
    }
}
