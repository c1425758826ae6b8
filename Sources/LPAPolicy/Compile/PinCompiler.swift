/// `pins:` → `PinPlan`. The files themselves are bound read-only by `MountCompiler`;
/// hashing them is the launcher's job, before anything starts.
struct PinCompiler {
    let document: ProfileDocument

    func compile(_ diagnostics: inout [Diagnostic]) -> PinPlan {
        var plan = PinPlan()
        if let executable = document.pinExecutable {
            plan.executable = ExecutablePin(sha256: executable.value, origin: executable.position.origin)
        }
        let modelDigests = Dictionary((document.models?.items ?? []).compactMap { item in
            item.value.sha256.map { (item.value.path, (digest: $0, position: item.position)) }
        }, uniquingKeysWith: { first, _ in first })
        for item in document.pinFiles?.items ?? [] {
            guard let sha = item.value.sha256 else { continue }
            // One file, two different expected digests: one of them is wrong, say which.
            if let model = modelDigests[item.value.path], model.digest != sha {
                diagnostics.append(Diagnostic(at: item.position,
                                              "'\(item.value.path)' is pinned to two different digests",
                                              hint: "the 'models' entry at \(model.position.origin) says \(model.digest)"))
            }
            plan.files.append(FilePin(path: item.value.path, sha256: sha, origin: item.position.origin))
        }
        for item in document.pinDirectories?.items ?? [] {
            let files = item.value.files.map {
                FilePin(path: $0.value.path, sha256: $0.value.sha256 ?? "", origin: $0.position.origin)
            }
            plan.directories.append(DirectoryPin(path: item.value.path, files: files, origin: item.position.origin))
        }
        return plan
    }
}
