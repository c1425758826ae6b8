/// The text of one profile and where it came from.
public struct LoadedProfile: Sendable, Equatable {
    /// The profile's name: the file name without .yaml, or the built-in name.
    public var name: String
    /// Display path: a file path, or "builtin:NAME" for an embedded profile.
    /// Diagnostics and plan origins use it.
    public var path: String
    public var text: String

    public init(name: String, path: String, text: String) {
        self.name = name
        self.path = path
        self.text = text
    }

    public var isBuiltin: Bool { path.hasPrefix("builtin:") }
}

/// Why a profile reference could not be loaded; the compiler adds the position
/// of the `extends` entry (or the option) that named it.
public struct ProfileLoadError: Error, Sendable, Equatable {
    public var message: String
    public var hint: String?
    public init(message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
}

/// Resolves profile references (a name or a path) to text. The compiler never
/// touches the file system itself, so tests can hand it profiles from memory.
public protocol ProfileLoader: Sendable {
    /// - Parameters:
    ///   - reference: a name ("strict") or a path ("./p.yaml", "/etc/x.yaml").
    ///   - parent: the profile whose `extends` names `reference`; relative paths
    ///     resolve against its directory. nil for the profile given on the command line.
    func load(_ reference: String, from parent: LoadedProfile?) throws(ProfileLoadError) -> LoadedProfile
}

/// One line of `lpa-run profiles`.
public struct ProfileListing: Sendable, Equatable {
    public var name: String
    /// The first line of the profile's `description`.
    public var description: String
    /// The file path or "builtin:NAME" that a reference by name would load.
    public var source: String
    public init(name: String, description: String, source: String) {
        self.name = name
        self.description = description
        self.source = source
    }
}

/// Whether a reference means a file path rather than a profile name.
enum ProfileReference {
    static let builtinPrefix = "builtin:"

    /// `builtin:NAME`: the embedded profile, never a file; nil for any other reference.
    static func builtin(_ reference: String) throws(ProfileLoadError) -> LoadedProfile? {
        guard reference.hasPrefix(builtinPrefix) else { return nil }
        let name = String(reference.dropFirst(builtinPrefix.count))
        guard let text = BuiltinProfiles.texts[name] else {
            throw ProfileLoadError(message: "no built-in profile named '\(name)'"
                                   + Suggestion.phrase(for: name, in: Array(BuiltinProfiles.texts.keys)),
                                   hint: "built-ins: \(BuiltinProfiles.texts.keys.sorted().joined(separator: ", "))")
        }
        return LoadedProfile(name: name, path: builtinPrefix + name, text: text)
    }

    static func isPath(_ reference: String) -> Bool {
        reference.contains("/") || reference.hasSuffix(".yaml") || reference.hasSuffix(".yml")
    }

    /// "dir/name.yaml" -> "name".
    static func name(ofPath path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? path
        for suffix in [".yaml", ".yml"] where base.hasSuffix(suffix) {
            base.removeLast(suffix.count)
        }
        return base
    }

    /// The directory part of a path ("" when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Joins a relative path onto a directory, dropping "./" segments.
    static func join(_ directory: String, _ relative: String) -> String {
        if relative.hasPrefix("/") { return relative }
        var rest = Substring(relative)
        while rest.hasPrefix("./") { rest = rest.dropFirst(2) }
        if directory.isEmpty { return String(rest) }
        return directory.hasSuffix("/") ? directory + rest : directory + "/" + rest
    }
}
