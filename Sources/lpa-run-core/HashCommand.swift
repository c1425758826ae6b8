#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LPAPolicy
import LPASandbox

/// `lpa-run hash FILE|DIRECTORY...`: SHA-256 digests as ready-to-paste `pins:` entries,
/// computed by the same code the launcher verifies with.
struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print SHA-256 pins for files (pins.files entries) and directories (pins.directories entries).")

    @Option(name: .long, help: "text (YAML lines to paste under `pins:`) or json.")
    var format: OutputFormat = .text

    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false

    @Argument(help: "Files or directories (a directory gives its complete manifest).")
    var paths: [String]

    struct Hashed {
        var path: String
        var sha256: String
    }

    func exitStatus() -> Int32 {
        let progress = HashProgress(quiet: quiet)
        var failed = false
        var files: [Hashed] = []
        var directories: [(path: String, files: [Hashed])] = []
        for argument in paths {
            let path = Self.absolute(argument)
            var st = stat()
            guard stat(path, &st) == 0 else {
                printError("lpa-run hash: \(argument): \(String(cString: strerror(errno)))")
                failed = true
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                var manifest: [Hashed] = []
                DirectoryWalk.walk(path) { relative, type in
                    switch type {
                    case .file:
                        if let digest = Self.hash(path + "/" + relative, progress) {
                            manifest.append(Hashed(path: relative, sha256: digest))
                        } else {
                            failed = true
                        }
                    case .link: break  // its target, when inside the directory, is listed itself
                    case .other, .unreadable:
                        printError("lpa-run hash: \(path)/\(relative): not a regular file; a pin would refuse it")
                        failed = true
                    }
                }
                directories.append((path, manifest))
            } else if let digest = Self.hash(path, progress) {
                files.append(Hashed(path: path, sha256: digest))
            } else {
                failed = true
            }
        }
        switch format {
        case .text: printText(files, directories)
        case .json: printJSON(files, directories)
        }
        return failed ? 1 : 0
    }

    static func hash(_ path: String, _ progress: HashProgress) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        var st = stat()
        guard fd >= 0, fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            let err = fd < 0 ? errno : EINVAL
            if fd >= 0 { close(fd) }
            printError("lpa-run hash: \(path): " + (err == EINVAL ? "not a regular file" : String(cString: strerror(err))))
            return nil
        }
        defer { close(fd) }
        progress.begin(path, total: UInt64(st.st_size))
        defer { progress.end() }
        do throws(FileDigest.Failure) {
            return try FileDigest.sha256(fd: fd) { progress.update($0) }
        } catch {
            printError("lpa-run hash: \(path): \(String(cString: strerror(error.errno)))")
            return nil
        }
    }

    private func printText(_ files: [Hashed], _ directories: [(path: String, files: [Hashed])]) {
        print("pins:")
        if !files.isEmpty {
            print("  files:")
            for file in files { print("    - {path: \(Self.yaml(file.path)), sha256: \(file.sha256)}") }
        }
        if !directories.isEmpty {
            print("  directories:")
            for directory in directories {
                print("    - path: \(Self.yaml(directory.path))")
                print("      files:")
                for file in directory.files { print("        \(Self.yaml(file.path)): \(file.sha256)") }
            }
        }
    }

    private func printJSON(_ files: [Hashed], _ directories: [(path: String, files: [Hashed])]) {
        func entry(_ h: Hashed) -> String { "{\"path\": \(JSONString.literal(h.path)), \"sha256\": \"\(h.sha256)\"}" }
        let fileList = files.map { "    " + entry($0) }.joined(separator: ",\n")
        let directoryList = directories.map { d in
            "    {\"path\": \(JSONString.literal(d.path)), \"files\": [\n"
                + d.files.map { "      " + entry($0) }.joined(separator: ",\n") + "\n    ]}"
        }.joined(separator: ",\n")
        print("{\n  \"files\": [\n\(fileList)\n  ],\n  \"directories\": [\n\(directoryList)\n  ]\n}")
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let cwd = getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "/"
        let joined = (cwd == "/" ? "" : cwd) + "/" + path
        // Tidy ./ and trailing / so the line pastes as the profile will normalize it.
        return PathNormalizer.collapsed(joined)
    }

    /// Plain scalars where safe, else a double-quoted YAML string.
    static func yaml(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy {
            ($0.properties.isAlphabetic && $0.isASCII) || ("0"..."9").contains($0) || "/._-+@".unicodeScalars.contains($0)
        }
        return plain && !text.isEmpty && !text.hasPrefix("-") ? text : JSONString.literal(text)
    }
}
