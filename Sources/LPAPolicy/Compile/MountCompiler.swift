/// Builds the ordered mount list: binds, then the kernel filesystems, then
/// fresh tmpfs, and hides last so nothing mounted later can uncover them.
/// Finally the list is ordered parents first (a stable sort on path depth): a bind
/// of /tmp/tool/bin must come after the tmpfs on /tmp, or the tmpfs would cover it.
struct MountCompiler {
    static let roOptions = ["ro", "nosuid", "nodev"]
    static let rwOptions = ["rw", "nosuid", "nodev"]
    /// Used when no profile sets tmpfs-size: bounded so a runaway writer cannot eat host RAM.
    static let defaultTmpfsSize: UInt64 = 1 << 30

    let document: ProfileDocument
    let context: HostContext
    let executable: String?

    var cwdMode: CwdMode { document.cwd?.value ?? .none }
    var homeMode: HomeMode { document.home?.value ?? .tmpfs }

    func compile(_ diagnostics: inout [Diagnostic]) -> [MountEntry] {
        var mounts: [MountEntry] = []
        let readOnly = document.readOnly?.items ?? []
        let readWrite = document.readWrite?.items ?? []

        // The same path cannot be both: the later mount would silently win.
        let roPaths = Set(readOnly.map(\.value.path))
        for item in readWrite where roPaths.contains(item.value.path) {
            diagnostics.append(Diagnostic(at: item.position, "'\(item.value.path)' is both read-only and read-write",
                                          hint: "keep it in one list; use {replace: [...]} to drop an inherited entry"))
        }

        for item in readOnly {
            mounts.append(bind(item, options: Self.roOptions))
        }
        // The workload must be able to exec its binary; bind its directory when no bind covers it.
        if let executable {
            let directory = PathNormalizer.directory(of: executable)
            let covering = readOnly.map(\.value.path) + readWrite.map(\.value.path)
                + (cwdMode == .none ? [] : [context.cwd])
            if !covering.contains(where: { PathNormalizer.isWithin(directory, $0) }) {
                mounts.append(MountEntry(kind: .bind, source: directory, target: directory, options: Self.roOptions))
            }
        }
        for model in document.models?.items ?? [] {
            mounts.append(MountEntry(kind: .bind, source: model.value.path, target: model.value.path,
                                     options: Self.roOptions, origin: model.position.origin))
        }
        // Pinned files and directories are bound read-only at their own path; the launcher
        // replaces each verified file's source with the descriptor it hashed.
        let modelPaths = Set((document.models?.items ?? []).map(\.value.path))
        for pin in document.pinFiles?.items ?? [] where !modelPaths.contains(pin.value.path) {
            mounts.append(MountEntry(kind: .bind, source: pin.value.path, target: pin.value.path,
                                     options: Self.roOptions, origin: pin.position.origin))
        }
        for pin in document.pinDirectories?.items ?? [] {
            mounts.append(MountEntry(kind: .bind, source: pin.value.path, target: pin.value.path,
                                     options: Self.roOptions, origin: pin.position.origin))
        }
        for item in readWrite {
            mounts.append(bind(item, options: Self.rwOptions))
        }
        if cwdMode != .none, let cwd = document.cwd {
            mounts.append(MountEntry(kind: .bind, source: context.cwd, target: context.cwd,
                                     options: cwdMode == .readWrite ? Self.rwOptions : Self.roOptions,
                                     origin: cwd.position.origin))
        }
        mounts.append(MountEntry(kind: .proc, target: "/proc", options: ["nosuid", "nodev", "noexec"]))
        var dev = MountEntry(kind: .dev, target: "/dev")
        if let shm = document.shmSize {
            dev.options.append("shm-size=\(shm.value)")
            dev.origin = shm.position.origin
        }
        mounts.append(dev)
        for device in document.devices?.items ?? [] {
            let paths = ProfileSchema.deviceGroups[device.value.path] ?? [device.value.path]
            for path in paths {
                mounts.append(MountEntry(kind: .device, source: path, target: path, options: ["rw", "nosuid"],
                                         optional: device.value.optional, origin: device.position.origin))
            }
        }
        for item in document.tmpfs?.items ?? [] {
            mounts.append(tmpfs(item.value, defaultMode: 0o1777, origin: item.position.origin))
        }
        let home = context.home
        if homeMode == .tmpfs, home != "/" {
            // Private: the sandbox user's scratch home, never the host's.
            mounts.append(tmpfs(TmpfsItem(path: home), defaultMode: 0o700, origin: document.home?.position.origin))
        }
        for item in document.caches?.items ?? [] {
            // Inside a tmpfs home a cache directory is already fresh; a second mount adds nothing.
            if homeMode == .tmpfs, home != "/", PathNormalizer.isWithin(item.value.path, home) { continue }
            mounts.append(tmpfs(item.value, defaultMode: 0o700, origin: item.position.origin))
        }
        for item in document.hide?.items ?? [] {
            // Hiding a path that does not exist is already achieved: always optional.
            mounts.append(MountEntry(kind: .hide, target: item.value.path, optional: true, origin: item.position.origin))
        }
        return Self.parentsFirst(mounts)
    }

    /// Stable: entries at the same depth keep their order; hides stay after everything.
    static func parentsFirst(_ mounts: [MountEntry]) -> [MountEntry] {
        func depth(_ m: MountEntry) -> Int { m.target.split(separator: "/").count }
        let ordered = mounts.enumerated().sorted { a, b in
            let (ha, hb) = (a.element.kind == .hide, b.element.kind == .hide)
            if ha != hb { return !ha }
            let (da, db) = (depth(a.element), depth(b.element))
            if da != db { return da < db }
            // At the same depth a fresh tmpfs goes first, so a bind of that very path
            // (the working directory /tmp, say) lands on top instead of being covered.
            let (ta, tb) = (a.element.kind == .tmpfs, b.element.kind == .tmpfs)
            if ta != tb { return ta }
            return a.offset < b.offset
        }
        return ordered.map(\.element)
    }

    private func bind(_ item: Located<PathItem>, options: [String]) -> MountEntry {
        MountEntry(kind: .bind, source: item.value.path, target: item.value.path, options: options,
                   optional: item.value.optional, origin: item.position.origin)
    }

    private func tmpfs(_ item: TmpfsItem, defaultMode: UInt32, origin: Origin?) -> MountEntry {
        let size = item.size ?? document.tmpfsSize?.value ?? Self.defaultTmpfsSize
        let mode = String(item.mode ?? defaultMode, radix: 8)
        var options = Self.rwOptions + ["size=\(size)", "mode=" + String(repeating: "0", count: max(0, 4 - mode.count)) + mode]
        // Prompts and outputs written to tmpfs must never reach a swap device.
        if document.noswap?.value ?? true { options.append("noswap") }
        return MountEntry(kind: .tmpfs, target: item.path, options: options, origin: origin)
    }
}
