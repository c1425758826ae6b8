#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Loads profiles from the file system, then from the embedded built-ins.
///
/// Search order for a name: $XDG_CONFIG_HOME/lpa-run/profiles/NAME.yaml
/// (default ~/.config), /etc/lpa-run/profiles/NAME.yaml, then built-in. A reference
/// with a "/" or ending in .yaml/.yml is a path: relative to the current directory
/// on the command line, relative to the parent file's directory in `extends`.
/// `builtin:NAME` is the embedded profile only, whatever files exist (built-ins extend
/// each other that way, so no file can weaken them).
/// This is the only type in LPAPolicy that reads files.
public struct FileProfileLoader: ProfileLoader {
    public var environment: [String: String]
    public var cwd: String
    /// Told of every file before it is opened for its contents (the launch record's
    /// manifest).
    public var observe: (@Sendable (String) -> Void)?

    public init(environment: [String: String], cwd: String, observe: (@Sendable (String) -> Void)? = nil) {
        self.environment = environment
        self.cwd = cwd
        self.observe = observe
    }

    /// Directories searched for profiles by name, user's first.
    public var searchDirectories: [String] {
        // The same directory that every sandbox has masked (HostContext.trustAnchors): a
        // relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? PathNormalizer.collapsed(home + "/.config")
        return [config + "/lpa-run/profiles", "/etc/lpa-run/profiles"]
    }

    public func load(_ reference: String, from parent: LoadedProfile?) throws(ProfileLoadError) -> LoadedProfile {
        if let builtin = try ProfileReference.builtin(reference) { return builtin }
        if ProfileReference.isPath(reference) {
            let path: String
            if let parent {
                guard !parent.isBuiltin || reference.hasPrefix("/") else {
                    throw ProfileLoadError(message: "built-in profile '\(parent.name)' cannot extend the relative path '\(reference)'")
                }
                path = ProfileReference.join(ProfileReference.directory(of: parent.path), reference)
            } else {
                path = reference
            }
            let openPath = ProfileReference.join(cwd, path)
            guard let text = read(openPath) else {
                throw ProfileLoadError(message: "cannot read profile '\(path)'",
                                       hint: "a path is relative to \(parent == nil ? "the current directory" : "the directory of the profile that extends it")")
            }
            return LoadedProfile(name: ProfileReference.name(ofPath: path), path: path, text: text)
        }
        for directory in searchDirectories {
            let path = directory + "/" + reference + ".yaml"
            if let text = read(path) { return LoadedProfile(name: reference, path: path, text: text) }
        }
        if let text = BuiltinProfiles.texts[reference] {
            return LoadedProfile(name: reference, path: "builtin:" + reference, text: text)
        }
        let known = available().map(\.name)
        throw ProfileLoadError(message: "no profile named '\(reference)'" + Suggestion.phrase(for: reference, in: known),
                               hint: "profiles are searched in \(searchDirectories.joined(separator: ", ")) and the built-ins (\(BuiltinProfiles.texts.keys.sorted().joined(separator: ", ")))")
    }

    /// Every profile reachable by name, with the source that wins for each name.
    public func available() -> [ProfileListing] {
        var found: [String: ProfileListing] = [:]
        for directory in searchDirectories.reversed() {
            for file in Self.names(in: directory) where file.hasSuffix(".yaml") {
                let path = directory + "/" + file
                guard let text = read(path) else { continue }
                let name = ProfileReference.name(ofPath: file)
                found[name] = ProfileListing(name: name, description: ProfileSummary.firstLine(of: text), source: path)
            }
        }
        for (name, text) in BuiltinProfiles.texts where found[name] == nil {
            found[name] = ProfileListing(name: name, description: ProfileSummary.firstLine(of: text), source: "builtin:" + name)
        }
        return found.values.sorted { $0.name < $1.name }
    }

    /// The file's text (invalid UTF-8 as U+FFFD), nil when it cannot be opened or is a
    /// directory. At most one byte more than the parser accepts is read, so a huge or
    /// endless file (/dev/zero) is refused by YAMLComposer rather than held in memory.
    private func read(_ path: String) -> String? {
        observe?(path)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT != S_IFDIR else { return nil }
        let limit = YAMLComposer.maxBytes + 1
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count < limit {
            let want = min(chunk.count, limit - bytes.count)
            let got = chunk.withUnsafeMutableBytes { readBytes(fd, $0.baseAddress, want) }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { return nil }
            if got == 0 { break }
            bytes += chunk[..<got]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The entries of a directory (none when it cannot be read), in no particular order.
    private static func names(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }
}

/// read(2), named apart from FileProfileLoader.read.
private func readBytes(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// The one-line summary shown by `lpa-run profiles`.
enum ProfileSummary {
    static func firstLine(of text: String) -> String {
        guard let node = try? YAMLComposer.compose(text), let description = node["description"]?.scalar?.string else { return "" }
        return description.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }
}
