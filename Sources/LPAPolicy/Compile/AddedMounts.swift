/// Mounts no profile wrote: `--ro`, `--rw`, `--tmpfs` from the command line, a preset's
/// model arguments, and the root of a Python environment found automatically. They go
/// through MountCompiler like profile binds (the same refusals), after every profile
/// mount, each with its provenance.
struct AddedMounts: Sendable {
    struct Bind: Sendable {
        var source: String
        var target: String
        var readOnly: Bool
        var position: SourcePosition
        /// Named by the user (`--ro PATH`): like a profile entry, it may name exactly the
        /// home, /tmp or /run on purpose. Found by lpa-run: never.
        var named: Bool
    }

    var binds: [Bind] = []
    var tmpfs: [(item: TmpfsItem, position: SourcePosition)] = []

    var isEmpty: Bool { binds.isEmpty && tmpfs.isEmpty }
}

/// Reads `--ro PATH[:TARGET]`, `--rw PATH[:TARGET]` and `--tmpfs PATH[:SIZE]`.
struct CommandLineBindReader {
    let context: HostContext

    func read(_ options: [CommandLineBind], into added: inout AddedMounts, _ diagnostics: inout [Diagnostic]) {
        for option in options {
            let position = SourcePosition.argv(option.position, "\(option.kind.rawValue) \(option.value)")
            switch option.kind {
            case .readOnly, .readWrite:
                let (sourceText, targetText) = Self.splitTarget(option.value)
                guard let source = hostPath(sourceText, position, &diagnostics) else { continue }
                var target = source
                if let targetText {
                    guard let checked = sandboxPath(targetText, option, position, &diagnostics) else { continue }
                    target = checked
                }
                added.binds.append(.init(source: source, target: target, readOnly: option.kind == .readOnly,
                                         position: position, named: true))
            case .tmpfs:
                var pathText = option.value
                var size: UInt64?
                // PATH:SIZE when what follows the last ':' reads as a size.
                if let colon = option.value.lastIndex(of: ":"),
                   let parsed = try? SizeParser.parse(String(option.value[option.value.index(after: colon)...])) {
                    pathText = String(option.value[..<colon])
                    size = parsed
                }
                guard let path = sandboxPath(pathText, option, position, &diagnostics) else { continue }
                added.tmpfs.append((TmpfsItem(path: path, size: size), position))
            }
        }
    }

    /// PATH[:TARGET]: the last ':' followed by '/' starts the target, so a PATH holding a
    /// ':' still works when it names its TARGET.
    static func splitTarget(_ value: String) -> (String, String?) {
        guard let range = value.ranges(of: ":/").last else { return (value, nil) }
        return (String(value[..<range.lowerBound]), String(value[value.index(after: range.lowerBound)...]))
    }

    /// A host path: absolute, `~` or `~/...` (not expanded by the shell after `=`), or
    /// relative to the working directory, as `--model` takes it; never with '..'.
    private func hostPath(_ text: String, _ position: SourcePosition, _ diagnostics: inout [Diagnostic]) -> String? {
        var absolute = text
        if text == "~" || text.hasPrefix("~/") {
            absolute = context.home + text.dropFirst()
        } else if !text.hasPrefix("/") {
            absolute = context.cwd + "/" + text
        }
        do throws(PathNormalizer.Failure) {
            return try PathNormalizer.normalize(absolute)
        } catch {
            diagnostics.append(Diagnostic(at: position, error.message,
                                          hint: "name the host path without '..'"))
            return nil
        }
    }

    /// A path inside the sandbox: absolute, never '/', /proc or /dev (the sandbox's own).
    private func sandboxPath(_ text: String, _ option: CommandLineBind, _ position: SourcePosition,
                             _ diagnostics: inout [Diagnostic]) -> String? {
        let path: String
        do throws(PathNormalizer.Failure) {
            path = try PathNormalizer.normalize(text)
        } catch {
            diagnostics.append(Diagnostic(at: position, error.message + " (a path inside the sandbox)",
                                          hint: option.kind == .tmpfs ? "write \(option.kind.rawValue) /PATH[:SIZE]"
                                              : "write \(option.kind.rawValue) HOST_PATH:/SANDBOX_PATH"))
            return nil
        }
        if path == "/" || ["/proc", "/dev"].contains(where: { PathNormalizer.isWithin(path, $0) }) {
            diagnostics.append(Diagnostic(at: position, "cannot mount over '\(path)': lpa-run builds the sandbox's "
                                              + "/, /proc and /dev itself",
                                          hint: "choose another path inside the sandbox"))
            return nil
        }
        return path
    }
}
