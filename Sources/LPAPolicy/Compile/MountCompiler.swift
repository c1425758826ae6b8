/// Builds the ordered mount list: binds, then the kernel filesystems, then
/// fresh tmpfs, and hides last so nothing mounted later can uncover them.
/// Finally the list is ordered parents first (a stable sort on path depth): a bind
/// of /tmp/tool/bin must come after the tmpfs on /tmp, or the tmpfs would cover it.
struct MountCompiler {
    static let roOptions = MountOptions.readOnlyBind
    static let rwOptions = MountOptions.readWriteBind
    /// Device nodes keep dev (that is their point) but never suid or exec.
    static let deviceOptions = MountOptions(noDev: false, noExec: true)
    /// Files under /proc that host root inside the sandbox could otherwise write (root
    /// inside is host uid 0 when lpa-run runs as root): sysctls, sysrq-trigger and
    /// friends are bound read-only over themselves. Other callers cannot write them.
    static let protectedProcEntries = ["sys", "sysrq-trigger", "irq", "bus", "fs", "acpi", "scsi", "kcore", "keys",
                                       "timer_list"]
    /// Used when no profile sets tmpfs-size: bounded so a runaway writer cannot eat host RAM.
    static let defaultTmpfsSize: UInt64 = 1 << 30

    let document: ProfileDocument
    let context: HostContext
    let executable: String?
    let identity: Identity
    /// Whether the resolved command is pinned: it is then bound from the hashed descriptor.
    let executablePinned: Bool

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
        // Pinned files are bound read-only at their own path from the descriptor the
        // launcher hashed (`verified`), so a file swapped after the check is never used.
        let pinnedFiles = Set((document.pinFiles?.items ?? []).filter { $0.value.sha256 != nil }.map(\.value.path))
        for model in document.models?.items ?? [] {
            mounts.append(MountEntry(kind: .bind, source: model.value.path, target: model.value.path,
                                     options: Self.roOptions,
                                     verified: model.value.sha256 != nil || pinnedFiles.contains(model.value.path),
                                     origin: model.position.origin))
        }
        let modelPaths = Set((document.models?.items ?? []).map(\.value.path))
        for pin in document.pinFiles?.items ?? [] where !modelPaths.contains(pin.value.path) {
            mounts.append(MountEntry(kind: .bind, source: pin.value.path, target: pin.value.path,
                                     options: Self.roOptions, verified: pin.value.sha256 != nil,
                                     origin: pin.position.origin))
        }
        for pin in document.pinDirectories?.items ?? [] {
            mounts.append(MountEntry(kind: .bind, source: pin.value.path, target: pin.value.path,
                                     options: Self.roOptions, origin: pin.position.origin))
            // Each file of the manifest over its own name: what runs is what was hashed.
            // (A name that is a link on the host is left to its target, pinned too.)
            for file in pin.value.files {
                let path = pin.value.path + "/" + file.value.path
                mounts.append(MountEntry(kind: .bind, source: path, target: path, options: Self.roOptions,
                                         verified: true, origin: file.position.origin))
            }
        }
        // The pinned executable, bound over itself from its hashed descriptor (at the path
        // the kernel resolves it to, when it is reached through a link).
        if executablePinned, let executable, let pin = document.pinExecutable {
            mounts.append(MountEntry(kind: .bind, source: executable, target: executable, options: Self.roOptions,
                                     verified: true, origin: pin.position.origin))
        }
        for item in readWrite {
            mounts.append(bind(item, options: Self.rwOptions))
        }
        if cwdMode != .none, let cwd = document.cwd {
            mounts.append(MountEntry(kind: .bind, source: context.cwd, target: context.cwd,
                                     options: cwdMode == .readWrite ? Self.rwOptions : Self.roOptions,
                                     origin: cwd.position.origin))
        }
        mounts.append(MountEntry(kind: .proc, target: "/proc", options: MountOptions(noExec: true)))
        if identity.uid == 0 {
            for entry in Self.protectedProcEntries {
                mounts.append(MountEntry(kind: .protect, target: "/proc/" + entry, options: .readOnlyBind,
                                         optional: true))
            }
        }
        mounts += minimalDev()
        for device in document.devices?.items ?? [] {
            let patterns = ProfileSchema.deviceGroups[device.value.path] ?? [device.value.path]
            var matched = false
            for pattern in patterns {
                // With a view of the host (lpa-run), globs become the nodes present now.
                let paths = context.devices.map { $0(pattern) } ?? [pattern]
                matched = matched || !paths.isEmpty
                for path in paths {
                    mounts.append(MountEntry(kind: .device, source: path, target: path, options: Self.deviceOptions,
                                             optional: device.value.optional, origin: device.position.origin))
                }
            }
            if !matched && !device.value.optional {
                diagnostics.append(Diagnostic(at: device.position, "no device matches '\(device.value.path)'",
                                              hint: "check the driver is loaded, or mark the device `optional: true`"))
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
            mounts.append(MountEntry(kind: .hide, target: item.value.path, options: MountOptions(readOnly: true, noExec: true),
                                     optional: true, origin: item.position.origin))
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

    /// A minimal /dev: a few harmless character devices bound from the host, a new
    /// devpts instance (no access to the host's terminals), a private /dev/shm.
    private func minimalDev() -> [MountEntry] {
        var dev = [MountEntry(kind: .tmpfs, target: "/dev",
                              options: MountOptions(noDev: false, noExec: true, size: 64 << 10, mode: 0o755))]
        for node in ["null", "zero", "full", "random", "urandom", "tty"] {
            dev.append(MountEntry(kind: .device, source: "/dev/" + node, target: "/dev/" + node,
                                  options: Self.deviceOptions, optional: node == "tty"))
        }
        dev.append(MountEntry(kind: .devpts, target: "/dev/pts", options: MountOptions(noDev: false, noExec: true)))
        dev.append(MountEntry(kind: .symlink, source: "pts/ptmx", target: "/dev/ptmx"))
        // Shared memory holds what programs put there (model weights, prompts): a tmpfs
        // like the others, noswap included.
        var shm = MountOptions(noswap: document.noswap?.value ?? true, mode: 0o1777)
        shm.size = document.shmSize?.value
        dev.append(MountEntry(kind: .tmpfs, target: "/dev/shm", options: shm, origin: document.shmSize?.position.origin))
        for (name, link) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
            dev.append(MountEntry(kind: .symlink, source: link, target: "/dev/" + name))
        }
        return dev
    }

    private func bind(_ item: Located<PathItem>, options: MountOptions) -> MountEntry {
        MountEntry(kind: .bind, source: item.value.path, target: item.value.path, options: options,
                   optional: item.value.optional, origin: item.position.origin)
    }

    private func tmpfs(_ item: TmpfsItem, defaultMode: UInt32, origin: Origin?) -> MountEntry {
        let size = item.size ?? document.tmpfsSize?.value ?? Self.defaultTmpfsSize
        // Prompts and outputs written to tmpfs must never reach a swap device.
        let options = MountOptions(noswap: document.noswap?.value ?? true, size: size, mode: item.mode ?? defaultMode)
        return MountEntry(kind: .tmpfs, target: item.path, options: options, origin: origin)
    }
}
