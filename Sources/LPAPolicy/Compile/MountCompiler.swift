/// Builds the ordered mount list: binds, then the kernel filesystems, then
/// fresh tmpfs, and hides last so nothing mounted later can uncover them.
/// Finally the list is ordered parents first (a stable sort on path depth): a bind
/// of /tmp/tool/bin must come after the tmpfs on /tmp, or the tmpfs would cover it.
struct MountCompiler {
    static let roOptions = MountOptions.readOnlyBind
    static let rwOptions = MountOptions.readWriteBind
    /// Device nodes keep dev (that is their point) but never suid or exec.
    static let deviceOptions = MountOptions(noDev: false, noExec: true)
    /// Files under /proc that host root could write: sysctls, sysrq-trigger and friends,
    /// bound read-only over themselves when lpa-run runs as root. The workload is never
    /// host root any more (IdentityCompiler); this stays as a second wall.
    static let protectedProcEntries = ["sys", "sysrq-trigger", "irq", "bus", "fs"]
    /// Masked in every sandbox, as Docker does: physical page flags and counts (a side
    /// channel for rowhammer-style attacks), the kernel's keys, timers and scheduler
    /// internals, kernel memory, hardware tables. Missing entries are skipped.
    static let maskedProcEntries = ["kcore", "keys", "kpageflags", "kpagecount", "kpagecgroup", "timer_list",
                                    "timer_stats", "sched_debug", "latency_stats", "acpi", "asound", "scsi"]
    /// Used when no profile sets tmpfs-size: bounded so a runaway writer cannot eat host RAM.
    static let defaultTmpfsSize: UInt64 = 1 << 30

    let document: ProfileDocument
    let context: HostContext
    let executable: String?
    /// Whether the resolved command is pinned: it is then bound from the hashed descriptor.
    let executablePinned: Bool
    /// Command-line, model-argument and automatic mounts, after every profile mount.
    var added = AddedMounts()

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

        let added = checkAdded(&diagnostics)
        checkBindSources(added, &diagnostics)

        for item in readOnly {
            mounts.append(bind(item, options: Self.roOptions))
        }
        // The workload must be able to exec its binary: when no bind covers it, bind the
        // file itself, never its directory (~/tool would expose the home, /tmp/t the
        // host's /tmp). What it needs besides (libraries, an interpreter) the profile names.
        if let executable, !executablePinned {
            var covering: [String] = readOnly.map(\.value.path) + readWrite.map(\.value.path)
            if cwdMode != .none { covering.append(context.cwd) }
            covering += added.binds.filter { $0.source == $0.target }.map(\.source)
            if !covering.contains(where: { PathNormalizer.isWithin(executable, $0) }) {
                mounts.append(MountEntry(kind: .bind, source: executable, target: executable, options: Self.roOptions))
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
        for bind in added.binds {
            mounts.append(MountEntry(kind: .bind, source: bind.source, target: bind.target,
                                     options: bind.readOnly ? Self.roOptions : Self.rwOptions,
                                     origin: bind.position.origin))
        }
        mounts.append(MountEntry(kind: .proc, target: "/proc", options: MountOptions(noExec: true)))
        if context.uid == 0 {
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
        for (item, position) in added.tmpfs {
            mounts.append(tmpfs(item, defaultMode: 0o1777, origin: position.origin))
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
        var hidden: Set<String> = []
        for item in document.hide?.items ?? [] where hidden.insert(item.value.path).inserted {
            // Hiding a path that does not exist is already achieved: always optional.
            mounts.append(MountEntry(kind: .hide, target: item.value.path, options: Self.hideOptions,
                                     optional: true, origin: item.position.origin))
        }
        // Not up to any profile: /proc internals, and lpa-run's own config and caches,
        // which a sandbox that could write them would use to weaken every later run.
        for path in Self.maskedProcEntries.map({ "/proc/" + $0 }) + context.trustAnchors
        where hidden.insert(path).inserted {
            mounts.append(MountEntry(kind: .hide, target: path, options: Self.hideOptions, optional: true))
        }
        return Self.parentsFirst(mounts)
    }

    static let hideOptions = MountOptions(readOnly: true, noExec: true)

    /// Paths no bind may expose unless a profile names exactly them: the caller's home
    /// (keys, tokens, agent sockets), the host's /tmp and /run and the runtime directory
    /// (X11, D-Bus, ssh-agent, gpg-agent and docker sockets), with what each is called.
    private var protectedPaths: [(path: String, what: String)] {
        var paths: [(String, String)] = [("/tmp", "the host's /tmp"), ("/run", "the host's /run")]
        if context.home != "/" { paths.insert((context.home, "the home directory"), at: 0) }
        if let runtime = context.environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            paths.append((PathNormalizer.collapsed(runtime), "the runtime directory (XDG_RUNTIME_DIR)"))
        }
        // The same places reached through links (/var/run -> /run, a home on another disk).
        var all: [(path: String, what: String)] = []
        for (path, what) in paths {
            all.append((path, what))
            if let real = context.resolveLinks?(path), real != path { all.append((real, what)) }
        }
        return all
    }

    /// Refuses binds that would expose more than the profile says: a bind that is or
    /// contains the home, /tmp, /run or the runtime directory without naming exactly that
    /// path, a working-directory bind over those or over lpa-run's own config, and any
    /// bind holding unix sockets (a read-only bind does not stop connect()) that
    /// `allow-sockets` does not name.
    private func checkBindSources(_ added: AddedMounts, _ diagnostics: inout [Diagnostic]) {
        struct Source {
            var path: String
            var position: SourcePosition
            /// Written in the profile (or with --ro/--rw) as a path, not the working
            /// directory nor a path lpa-run found.
            var named: Bool
            var writable = false
            var added = false
        }
        var sources: [Source] = []
        sources += (document.readOnly?.items ?? []).map { Source(path: $0.value.path, position: $0.position, named: true) }
        sources += (document.readWrite?.items ?? []).map {
            Source(path: $0.value.path, position: $0.position, named: true, writable: true)
        }
        sources += (document.models?.items ?? []).map { Source(path: $0.value.path, position: $0.position, named: true) }
        sources += (document.pinFiles?.items ?? []).map { Source(path: $0.value.path, position: $0.position, named: true) }
        sources += (document.pinDirectories?.items ?? []).map {
            Source(path: $0.value.path, position: $0.position, named: true)
        }
        if cwdMode != .none, let cwd = document.cwd {
            sources.append(Source(path: context.cwd, position: cwd.position, named: false,
                                  writable: cwdMode == .readWrite))
        }
        sources += added.binds.map {
            Source(path: $0.source, position: $0.position, named: $0.named, writable: !$0.readOnly, added: true)
        }
        // lpa-run's config and cache, also where they really are (~/.config may be a link)
        // and also when they do not exist yet: a masked path that is missing cannot be
        // masked, and a sandbox that may write its parent would create it.
        // No read-write bind may contain them at all: a mask cannot hold inside a tree
        // the sandbox can rename (mv ~/.config ~/.config-old; mkdir ~/.config/lpa-run).
        var anchors: [String] = []
        for anchor in context.trustAnchors {
            anchors.append(anchor)
            let parent = PathNormalizer.directory(of: anchor)
            if let real = context.resolveLinks?(anchor), real != anchor { anchors.append(real) }
            if let real = context.resolveLinks?(parent), real != parent { anchors.append(real + "/lpa-run") }
        }

        let protected = protectedPaths
        let allowedSockets = (document.allowSockets?.items ?? []).map(\.value.path)
        for source in sources {
            let real = context.resolveLinks?(source.path)
            let forms = [source.path] + (real.map { $0 == source.path ? [] : [$0] } ?? [])
            // A bind covers a path when it is that path or one of its ancestors; only a
            // profile entry naming exactly that path shares it on purpose.
            if let hit = protected.first(where: { p in
                forms.contains { PathNormalizer.isWithin(p.path, $0) } && !(source.named && source.path == p.path)
            }) {
                if source.added {
                    diagnostics.append(Diagnostic(
                        at: source.position, "'\(source.path)' would expose \(hit.what) (\(hit.path)) to the sandbox",
                        hint: source.named
                            ? "bind narrower paths; to share \(hit.path) itself on purpose, give exactly "
                                + "--ro \(hit.path) (or --rw)"
                            : "lpa-run binds an environment or a model argument only when it is narrower; "
                                + "bind what the command needs with --ro PATH"))
                } else if source.named {
                    diagnostics.append(Diagnostic(
                        at: source.position, "'\(source.path)' would expose \(hit.what) (\(hit.path)) to the sandbox",
                        hint: "bind narrower paths; to share \(hit.path) itself on purpose, list exactly '\(hit.path)' "
                            + "under `filesystem: read-only` or `read-write`"))
                } else {
                    diagnostics.append(Diagnostic(
                        at: source.position,
                        "cwd: \(cwdMode.rawValue) would bind the working directory \(context.cwd), which exposes \(hit.what) (\(hit.path))",
                        hint: "run lpa-run from a project directory, or set `filesystem: {cwd: none}` and name what "
                            + "the sandbox needs under `read-only`/`read-write`"))
                }
                continue
            }
            if source.writable,
               let anchor = anchors.first(where: { a in
                   forms.contains { PathNormalizer.isWithin(a, $0) || PathNormalizer.isWithin($0, a) }
               }) {
                diagnostics.append(Diagnostic(
                    at: source.position,
                    (source.named ? "'\(source.path)' read-write" : "cwd: read-write")
                        + " would let the sandbox write lpa-run's own configuration or cache (\(anchor))",
                    hint: source.named || source.added ? "bind narrower paths: a sandbox that can write a parent of lpa-run's config "
                        + "or cache can replace them for every later run"
                        : "run lpa-run from another directory, or use `cwd: read-only`"))
                continue
            }
            let sockets = (context.unixSockets?(source.path) ?? []).filter { socket in
                !allowedSockets.contains { PathNormalizer.isWithin(socket, $0) }
            }
            if let found = sockets.first {
                // A socket's name is anyone's choice: a line break in it must not start a
                // line of the diagnostic that looks like lpa-run's own.
                let socket = String(String.UnicodeScalarView(found.unicodeScalars.map {
                    $0.value < 0x20 || $0.value == 0x7f ? "?" : $0
                }))
                let more = sockets.count > 1 ? " and \(sockets.count - 1) more" : ""
                diagnostics.append(Diagnostic(
                    at: source.position,
                    "'\(source.path)' holds a unix socket (\(socket)\(more)): a bind, even read-only, lets the sandbox "
                        + "connect() to it with your credentials",
                    hint: "bind a narrower path, or allow it on purpose with `filesystem: {allow-sockets: [\(socket)]}` "
                        + "in a profile"))
            }
        }
    }

    /// An added mount whose target a profile mount (or an earlier added one) already
    /// uses is refused at the added one's position (the later mount would silently win),
    /// except an exact repeat, which is dropped with a warning.
    private func checkAdded(_ diagnostics: inout [Diagnostic]) -> AddedMounts {
        enum Use: Equatable { case bind(source: String, readOnly: Bool), tmpfs, other }
        var used: [String: (use: Use, what: String)] = [:]
        func note(_ target: String, _ use: Use, _ what: String) { if used[target] == nil { used[target] = (use, what) } }
        func at(_ position: SourcePosition) -> String { position.origin.description }
        for item in document.readOnly?.items ?? [] {
            note(item.value.path, .bind(source: item.value.path, readOnly: true), "read-only at " + at(item.position))
        }
        for item in document.readWrite?.items ?? [] {
            note(item.value.path, .bind(source: item.value.path, readOnly: false), "read-write at " + at(item.position))
        }
        for item in document.models?.items ?? [] {
            note(item.value.path, .bind(source: item.value.path, readOnly: true), "a model at " + at(item.position))
        }
        for item in (document.tmpfs?.items ?? []) + (document.caches?.items ?? []) {
            note(item.value.path, .tmpfs, "a tmpfs at " + at(item.position))
        }
        if cwdMode != .none, let cwd = document.cwd {
            note(context.cwd, .bind(source: context.cwd, readOnly: cwdMode == .readOnly),
                 "the working directory (cwd: \(cwdMode.rawValue) at \(at(cwd.position)))")
        }
        var kept = AddedMounts()
        for bind in added.binds {
            let use = Use.bind(source: bind.source, readOnly: bind.readOnly)
            if let previous = used[bind.target] {
                if previous.use == use {
                    diagnostics.append(Diagnostic(at: bind.position, severity: .warning,
                                                  "'\(bind.target)' is already \(previous.what); ignored"))
                } else {
                    diagnostics.append(Diagnostic(at: bind.position, "'\(bind.target)' is already \(previous.what)",
                                                  hint: "give each path inside the sandbox one mount"))
                }
                continue
            }
            note(bind.target, use, (bind.readOnly ? "read-only" : "read-write") + " at " + at(bind.position))
            kept.binds.append(bind)
        }
        if homeMode == .tmpfs, context.home != "/" { note(context.home, .tmpfs, "the sandbox's tmpfs home") }
        for entry in added.tmpfs {
            if let previous = used[entry.item.path] {
                diagnostics.append(Diagnostic(at: entry.position, "'\(entry.item.path)' is already \(previous.what)",
                                              hint: "give each path inside the sandbox one mount"))
                continue
            }
            note(entry.item.path, .tmpfs, "a tmpfs at " + at(entry.position))
            kept.tmpfs.append(entry)
        }
        return kept
    }

    /// Stable: entries at the same depth keep their order; hides stay after everything.
    static func parentsFirst(_ mounts: [MountEntry]) -> [MountEntry] {
        // Each target's depth counted once, not in every comparison.
        let depths = mounts.map { m in
            m.target.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).count
        }
        let ordered = mounts.enumerated().sorted { a, b in
            let (ha, hb) = (a.element.kind == .hide, b.element.kind == .hide)
            if ha != hb { return !ha }
            let (da, db) = (depths[a.offset], depths[b.offset])
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
        // Bounded like every tmpfs: shm-size, else tmpfs-size, else the default size.
        let shm = MountOptions(noswap: document.noswap?.value ?? true,
                               size: document.shmSize?.value ?? document.tmpfsSize?.value ?? Self.defaultTmpfsSize,
                               mode: 0o1777)
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
