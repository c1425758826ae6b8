/// A composed YAML node with its position: what `YAMLComposer` builds from libyaml's
/// events and the `NodeReader` readers walk. Aliases are already resolved (an alias is
/// the node its anchor names, sharing its storage), so there is no alias case.
enum Node {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    /// Where the node starts: 1-based line, and column in Unicode scalars (as libyaml
    /// counts them).
    struct Mark: Equatable {
        var line: Int
        var column: Int
    }

    /// "tag:yaml.org,2002:str", the tag of every untagged or quoted scalar: profiles are
    /// read with YAML's basic resolver, so `yes`, `1` and `~` are strings as written.
    static let stringTag = "tag:yaml.org,2002:str"

    struct Scalar {
        /// libyaml's scalar styles; the readers tell plain from quoted (a quoted "true"
        /// is not a boolean).
        enum Style: Equatable {
            case plain, singleQuoted, doubleQuoted, literal, folded
        }

        var string: String
        var style: Style
        /// The explicit tag (`!!int 1`), nil when untagged.
        var tag: String?
        var mark: Mark

        /// The tag under the basic resolver: an explicit tag, else a string.
        var resolvedTag: String { tag.flatMap { $0 == "!" ? nil : $0 } ?? Node.stringTag }
    }

    struct Mapping: RandomAccessCollection {
        var pairs: [(key: Node, value: Node)]
        var tag: String?
        var mark: Mark
        /// Nodes in this mapping with every alias counted as a copy (YAMLComposer's bound).
        var expandedSize: Int

        var startIndex: Int { pairs.startIndex }
        var endIndex: Int { pairs.endIndex }
        subscript(position: Int) -> (key: Node, value: Node) { pairs[position] }
    }

    struct Sequence: RandomAccessCollection {
        var nodes: [Node]
        var tag: String?
        var mark: Mark
        var expandedSize: Int

        var startIndex: Int { nodes.startIndex }
        var endIndex: Int { nodes.endIndex }
        subscript(position: Int) -> Node { nodes[position] }
    }

    var scalar: Scalar? {
        if case .scalar(let scalar) = self { return scalar }
        return nil
    }

    var mark: Mark {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .mapping(let mapping): mapping.mark
        case .sequence(let sequence): sequence.mark
        }
    }

    var expandedSize: Int {
        switch self {
        case .scalar: 1
        case .mapping(let mapping): mapping.expandedSize
        case .sequence(let sequence): sequence.expandedSize
        }
    }

    /// The value of the first entry whose key is the plain string `key`.
    subscript(key: String) -> Node? {
        guard case .mapping(let mapping) = self else { return nil }
        return mapping.first { $0.key.scalar.map { $0.string == key && $0.resolvedTag == Node.stringTag } ?? false }?.value
    }
}

extension Node {
    /// Equality as YAML keys compare (Yams' rule): content and resolved tag, not
    /// position or style, so `a` and `"a"` are the same key and `!!int 1` and `1` are not.
    struct Key: Hashable {
        let node: Node

        static func == (lhs: Key, rhs: Key) -> Bool { Node.sameContent(lhs.node, rhs.node) }

        /// Shallow for collections: equal keys hash alike, and a large aliased key is
        /// compared in full only against keys of its own kind and length.
        func hash(into hasher: inout Hasher) {
            switch node {
            case .scalar(let scalar):
                hasher.combine(0)
                hasher.combine(scalar.string)
                hasher.combine(scalar.resolvedTag)
            case .mapping(let mapping):
                hasher.combine(1)
                hasher.combine(mapping.count)
            case .sequence(let sequence):
                hasher.combine(2)
                hasher.combine(sequence.count)
            }
        }
    }

    /// Recursion is bounded by YAMLComposer.maxDepth.
    static func sameContent(_ a: Node, _ b: Node) -> Bool {
        switch (a, b) {
        case (.scalar(let x), .scalar(let y)):
            return x.string == y.string && x.resolvedTag == y.resolvedTag
        case (.mapping(let x), .mapping(let y)):
            return resolved(x.tag) == resolved(y.tag) && x.count == y.count
                && zip(x.pairs, y.pairs).allSatisfy { sameContent($0.key, $1.key) && sameContent($0.value, $1.value) }
        case (.sequence(let x), .sequence(let y)):
            return resolved(x.tag) == resolved(y.tag) && x.count == y.count
                && zip(x.nodes, y.nodes).allSatisfy { sameContent($0, $1) }
        default:
            return false
        }
    }

    /// A collection's tag: untagged and `!` are the default one.
    private static func resolved(_ tag: String?) -> String { tag == "!" ? "" : tag ?? "" }
}
