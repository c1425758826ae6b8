/// Loads a profile and everything it extends, parents first, each once.
struct ExtendsResolver {
    let loader: any ProfileLoader
    let parser: ProfileParser

    struct Resolution {
        /// In application order: parents before children, the asked-for profile last.
        var documents: [(profile: LoadedProfile, document: ProfileDocument)] = []
        var diagnostics: [Diagnostic] = []
    }

    /// - Parameter position: where the reference was written, for load failures
    ///   (nil: it came from the command line).
    func resolve(_ reference: String, position: SourcePosition? = nil) -> Resolution {
        var resolution = Resolution()
        var stack: [LoadedProfile] = []
        var done: Set<String> = []
        visit(reference, parent: nil, position: position, stack: &stack, done: &done, into: &resolution)
        return resolution
    }

    private func visit(_ reference: String, parent: LoadedProfile?, position: SourcePosition?,
                       stack: inout [LoadedProfile], done: inout Set<String>, into resolution: inout Resolution) {
        let profile: LoadedProfile
        do throws(ProfileLoadError) {
            profile = try loader.load(reference, from: parent)
        } catch {
            let at = position ?? SourcePosition(file: reference, line: 0, column: 0)
            resolution.diagnostics.append(Diagnostic(at: at, error.message, hint: error.hint))
            return
        }
        if !profile.isBuiltin, !ProfileReference.isPath(reference), BuiltinProfiles.texts[reference] != nil {
            // A file named like a built-in replaces it for every profile that extends the
            // name: say so, since a planted file would weaken them silently.
            let at = position ?? SourcePosition(file: profile.path, line: 0, column: 0)
            resolution.diagnostics.append(Diagnostic(
                at: at, severity: .warning,
                "the profile file \(profile.path) shadows the built-in profile '\(reference)'",
                hint: "write `\(ProfileReference.builtinPrefix)\(reference)` to use the built-in, or rename the file"))
        }
        if let start = stack.firstIndex(where: { $0.path == profile.path }) {
            let cycle = (stack[start...].map(\.name) + [profile.name]).joined(separator: " -> ")
            let at = position ?? SourcePosition(file: reference, line: 0, column: 0)
            resolution.diagnostics.append(Diagnostic(at: at, "extends cycle: \(cycle)"))
            return
        }
        guard !done.contains(profile.path) else { return }
        let (document, diagnostics) = parser.parse(profile)
        resolution.diagnostics += diagnostics
        stack.append(profile)
        for parentReference in document.extends {
            visit(parentReference.value, parent: profile, position: parentReference.position,
                  stack: &stack, done: &done, into: &resolution)
        }
        stack.removeLast()
        done.insert(profile.path)
        resolution.documents.append((profile, document))
    }
}
