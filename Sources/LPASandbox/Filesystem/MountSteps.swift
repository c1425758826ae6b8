#if canImport(Glibc)
import Glibc
#endif
import CShims
import CWindow
import LPAPolicy

/// The filesystem concern: turns the plan's mount list into the low-level steps the
/// post-clone window executes (see launch.c `apply_fs_op`). Everything that needs the
/// host's view (does the source exist, is it a symlink, which devices match a glob,
/// can tmpfs be made without swap) is decided here, before clone, so that a missing
/// bind source stops the run with the profile line that asked for it.
struct MountSteps {
    struct Step {
        var kind: lpa_fs_op_kind
        var planIndex: Int
        var source: String? = nil
        var target: String
        var data: String? = nil
        var flags: UInt = 0
        var attrSet: UInt64 = 0
        var mode: UInt32 = 0o755
        var targetIsFile = false
        var optional = false
        var fd: Int32 = -1
    }

    private(set) var steps: [Step] = []
    /// Detached tmpfs mounts made on the host side (noswap as root); closed after spawn.
    private(set) var mountFds: [Int32] = []

    /// Host root in the initial user namespace can create noswap tmpfs; the kernel refuses
    /// `noswap` to every tmpfs created inside a user namespace.
    private let canMakeNoswapTmpfs: Bool

    /// Host directories bound into the sandbox (followed through links), to tell a
    /// merged-/usr link from a link that leads elsewhere.
    private let boundSources: [String]

    /// Pinned files that were hashed, with their descriptors (see PinVerifier).
    private let verified: VerifiedFiles

    /// The sandbox's uid is host uid 0 (lpa-run started by root).
    private let hostRootInside: Bool

    init(plan: IsolationPlan, verified: VerifiedFiles = VerifiedFiles()) throws(LaunchError) {
        self.verified = verified
        hostRootInside = plan.identity.uid == 0
        canMakeNoswapTmpfs = geteuid() == 0 && Self.inInitialUserNamespace()
        boundSources = plan.mounts.compactMap { entry in
            var st = stat()
            guard entry.kind == .bind, let source = entry.source, lstat(source, &st) == 0,
                  (st.st_mode & S_IFMT) != S_IFLNK else { return nil }
            return FilePaths.realPath(source)
        }
        var extrasAdded = false
        for (index, entry) in plan.mounts.enumerated() {
            // Hides come last in the plan; verified files go before them so a hide still wins.
            if entry.kind == .hide && !extrasAdded {
                addVerifiedExtras(plan)
                extrasAdded = true
            }
            try add(entry, index: index)
        }
        if !extrasAdded { addVerifiedExtras(plan) }
    }

    /// Files of pinned directories and the pinned executable, each bound over its own path.
    private mutating func addVerifiedExtras(_ plan: IsolationPlan) {
        for extra in verified.extraBinds {
            let owner = extra.ownerSource.flatMap { source in
                plan.mounts.firstIndex { $0.kind == .bind && $0.source == source }
            } ?? -1
            steps.append(Step(kind: LPA_FS_BIND, planIndex: owner, source: extra.target, target: extra.target,
                              attrSet: Self.bindAttrs.ro, targetIsFile: true, fd: extra.fd))
        }
    }

    func describe(step index: Int, in plan: IsolationPlan) -> String {
        guard steps.indices.contains(index) else { return "mount step \(index)" }
        let step = steps[index]
        let what: String
        switch step.kind {
        case LPA_FS_BIND: what = "bind \(step.source ?? "") -> \(step.target)"
        case LPA_FS_TMPFS, LPA_FS_ATTACH: what = "tmpfs \(step.target)"
        case LPA_FS_PROC: what = "mount proc \(step.target)"
        case LPA_FS_DEVPTS: what = "mount devpts \(step.target)"
        case LPA_FS_SYMLINK: what = "symlink \(step.target)"
        case LPA_FS_MKDIR: what = "mkdir \(step.target)"
        default: what = "read-only \(step.target)"
        }
        if step.planIndex >= 0, let origin = plan.mounts[step.planIndex].origin {
            return "\(what) (from \(origin))"
        }
        return what
    }

    private static let bindAttrs: (ro: UInt64, rw: UInt64) = (
        UInt64(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV),
        UInt64(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
    )

    private mutating func add(_ entry: MountEntry, index: Int) throws(LaunchError) {
        switch entry.kind {
        case .bind:
            guard let source = entry.source else { return }
            if let fd = verified.descriptors[source] {
                // launch.c checks that the mounted inode is the one hashed through fd.
                steps.append(Step(kind: LPA_FS_BIND, planIndex: index, source: source, target: entry.target,
                                  attrSet: Self.bindAttrs.ro, targetIsFile: true, fd: fd))
                return
            }
            var st = stat()
            if lstat(source, &st) != 0 {
                if entry.optional && errno == ENOENT { return }
                throw LaunchError(
                    step: "bind \(source)", errno: errno,
                    message: "the bind source cannot be used" + (entry.origin.map { " (asked for at \($0))" } ?? ""),
                    hint: "create \(source), remove it from the profile, or mark it `optional: true`")
            }
            var bindSource = source
            if (st.st_mode & S_IFMT) == S_IFLNK {
                let real = FilePaths.realPath(source) ?? source
                if source == entry.target && boundSources.contains(where: { real == $0 || real.hasPrefix($0 + "/") }) {
                    // Merged-/usr systems: /bin -> usr/bin, and /usr is bound anyway.
                    // Recreate the link rather than binding the same tree twice.
                    steps.append(Step(kind: LPA_FS_SYMLINK, planIndex: index, source: FilePaths.readLink(source) ?? "",
                                      target: entry.target))
                    return
                }
                // A link to somewhere else: bind what it points to, at the path asked for.
                bindSource = real
                _ = stat(real, &st)
            }
            var attrs = entry.isReadOnly ? Self.bindAttrs.ro : Self.bindAttrs.rw
            if entry.options.contains("noexec") { attrs |= UInt64(MOUNT_ATTR_NOEXEC) }
            steps.append(Step(kind: LPA_FS_BIND, planIndex: index, source: bindSource, target: entry.target,
                              attrSet: attrs, targetIsFile: (st.st_mode & S_IFMT) != S_IFDIR,
                              optional: entry.optional))
        case .device:
            guard let pattern = entry.source else { return }
            let matches = Self.glob(pattern)
            if matches.isEmpty && !entry.optional {
                throw LaunchError(step: "device \(pattern)", errno: ENOENT, message: "no such device",
                                  hint: "check the driver is loaded, or mark the device optional")
            }
            for device in matches {
                // Devices keep dev (that is their point) but never suid or exec.
                var attrs = UInt64(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)
                if entry.isReadOnly && entry.options.contains("ro") { attrs |= UInt64(MOUNT_ATTR_RDONLY) }
                let target = pattern == entry.target ? device : entry.target
                steps.append(Step(kind: LPA_FS_BIND, planIndex: index, source: device, target: target,
                                  attrSet: attrs, targetIsFile: true, optional: entry.optional))
            }
        case .tmpfs:
            try addTmpfs(entry, index: index, target: entry.target)
        case .proc:
            steps.append(Step(kind: LPA_FS_PROC, planIndex: index, target: entry.target))
            // When the caller is host root, root inside is the same uid: without these,
            // sysctl files and sysrq-trigger (owned by root, writable by their owner) would
            // reach the host kernel. Any other caller's uid cannot write them anyway.
            guard hostRootInside else { return }
            for sub in ["sys", "sysrq-trigger", "irq", "bus", "fs", "acpi", "scsi", "kcore", "keys", "timer_list"] {
                steps.append(Step(kind: LPA_FS_RDONLY_SELF, planIndex: index, target: entry.target + "/" + sub,
                                  optional: true))
            }
        case .dev:
            try addDev(entry, index: index)
        case .symlink:
            steps.append(Step(kind: LPA_FS_SYMLINK, planIndex: index, source: entry.source ?? "", target: entry.target))
        case .dir:
            let mode = entry.option("mode").flatMap { UInt32($0, radix: 8) } ?? 0o755
            steps.append(Step(kind: LPA_FS_MKDIR, planIndex: index, target: entry.target, mode: mode))
        case .hide:
            var st = stat()
            let path = entry.source ?? entry.target
            if lstat(path, &st) != 0 {
                if errno == ENOENT { return } // nothing to hide
                throw LaunchError(step: "hide \(path)", errno: errno, message: "cannot inspect the path to hide")
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                steps.append(Step(kind: LPA_FS_TMPFS, planIndex: index, target: entry.target, data: "mode=000,size=4k",
                                  flags: UInt(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)))
            } else {
                // /dev/null on a nodev mount: the hidden file cannot even be opened.
                steps.append(Step(kind: LPA_FS_BIND, planIndex: index, source: "/dev/null", target: entry.target,
                                  attrSet: UInt64(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC),
                                  targetIsFile: true))
            }
        }
    }

    private mutating func addTmpfs(_ entry: MountEntry, index: Int, target: String,
                                   defaultMode: String = "0755") throws(LaunchError) {
        var data = ["mode=\(entry.option("mode") ?? defaultMode)"]
        if let size = entry.option("size") { data.append("size=\(size)") }
        var flags = UInt(MS_NOSUID | MS_NODEV)
        if entry.options.contains("noexec") { flags |= UInt(MS_NOEXEC) }
        if entry.options.contains("ro") { flags |= UInt(MS_RDONLY) }
        if entry.options.contains("noswap") {
            if canMakeNoswapTmpfs {
                var attrs = UInt64(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
                if entry.options.contains("noexec") { attrs |= UInt64(MOUNT_ATTR_NOEXEC) }
                if entry.options.contains("ro") { attrs |= UInt64(MOUNT_ATTR_RDONLY) }
                // fsconfig takes typed values: data[0] is "mode=OCTAL", data[1] "size=BYTES" if any.
                let size = data.count > 1 ? UInt64(data[1].dropFirst("size=".count)) : 0
                guard let mode = UInt32(data[0].dropFirst("mode=".count), radix: 8), let size else {
                    throw LaunchError(step: "tmpfs \(target) with noswap", errno: EINVAL, message: "bad tmpfs \(data)")
                }
                let fd = try sys("tmpfs \(target) with noswap",
                                 hint: "this kernel lacks tmpfs noswap (Linux 6.4+); use `noswap: false` to allow swap") {
                    lpa_fsopen_tmpfs(mode, size, 1, attrs)
                }
                mountFds.append(fd)
                steps.append(Step(kind: LPA_FS_ATTACH, planIndex: index, target: target, fd: fd))
                return
            }
            // Inside a user namespace the kernel refuses `noswap`. Without any active swap
            // device tmpfs pages cannot reach disk either; with one, we refuse to run.
            if let active = Self.activeSwap() {
                throw LaunchError(
                    step: "tmpfs \(target) with noswap", errno: EPERM,
                    message: "the profile forbids swapping sandbox files, swap is active (\(active)) and the kernel "
                        + "only allows tmpfs noswap to root in the initial user namespace",
                    hint: "run lpa-run as root, disable swap (swapoff -a), or set `filesystem: {noswap: false}` "
                        + "in your profile to accept that prompts may reach swap")
            }
        }
        steps.append(Step(kind: LPA_FS_TMPFS, planIndex: index, target: target,
                          data: data.joined(separator: ","), flags: flags))
    }

    /// A minimal /dev: a few harmless character devices bound from the host, a new
    /// devpts instance (no access to the host's terminals), a private /dev/shm.
    private mutating func addDev(_ entry: MountEntry, index: Int) throws(LaunchError) {
        let dev = entry.target
        steps.append(Step(kind: LPA_FS_TMPFS, planIndex: index, target: dev, data: "mode=0755,size=64k",
                          flags: UInt(MS_NOSUID | MS_NOEXEC)))
        for node in ["null", "zero", "full", "random", "urandom", "tty"] {
            steps.append(Step(kind: LPA_FS_BIND, planIndex: index, source: "/dev/\(node)", target: "\(dev)/\(node)",
                              attrSet: UInt64(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC), targetIsFile: true,
                              optional: node == "tty"))
        }
        steps.append(Step(kind: LPA_FS_DEVPTS, planIndex: index, target: "\(dev)/pts"))
        steps.append(Step(kind: LPA_FS_SYMLINK, planIndex: index, source: "pts/ptmx", target: "\(dev)/ptmx"))
        var shm = MountEntry(kind: .tmpfs, target: "\(dev)/shm", options: ["rw", "nosuid", "nodev"])
        if entry.options.contains("noswap") { shm.options.append("noswap") }
        if let size = entry.option("shm-size") { shm.options.append("size=\(size)") }
        try addTmpfs(shm, index: index, target: "\(dev)/shm", defaultMode: "1777")
        for (name, link) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
            steps.append(Step(kind: LPA_FS_SYMLINK, planIndex: index, source: link, target: "\(dev)/\(name)"))
        }
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
    }

    /// The first active swap device, or nil when the kernel has nowhere to swap to.
    static func activeSwap() -> String? {
        guard let text = readSmallFile("/proc/swaps") else { return "unknown: /proc/swaps unreadable" }
        let lines = text.split(separator: "\n").dropFirst()
        return lines.first.map { String($0.split(separator: " ").first ?? $0) }
    }

    static func inInitialUserNamespace() -> Bool {
        // The initial user namespace maps the whole 32-bit range onto itself.
        guard let map = readSmallFile("/proc/self/uid_map") else { return false }
        let fields = map.split(whereSeparator: { $0 == " " || $0 == "\n" })
        return fields.count == 3 && fields[0] == "0" && fields[1] == "0" && fields[2] == "4294967295"
    }

    /// The C view of the steps; the arena keeps the strings alive.
    func cOps(arena: CStringArena) -> [lpa_fs_op] {
        steps.map { s in
            lpa_fs_op(kind: Int32(s.kind.rawValue), plan_index: Int32(s.planIndex),
                      source: s.source.map { UnsafePointer(arena.string($0)) },
                      target: UnsafePointer(arena.string(s.target)),
                      data: s.data.map { UnsafePointer(arena.string($0)) },
                      flags: s.flags, attr_set: s.attrSet, mode: s.mode,
                      target_is_file: s.targetIsFile ? 1 : 0, optional: s.optional ? 1 : 0, fd: s.fd)
        }
    }
}
