#if canImport(Glibc)
import Glibc
#endif
import CLaunch
import CShims
import CWindow
import LPAPolicy

/// The filesystem concern: turns the plan's mount list into the low-level steps the
/// post-clone window executes (see window.c `apply_fs_op`). Everything that needs the
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
        /// How `fd` was made on the host, so that a launch record can make it again
        /// (CLaunch `lpa_host_step`): LPA_HOST_NONE for no fd or a pinned file's.
        var host = lpa_host_step(kind: Int32(LPA_HOST_NONE.rawValue), path: nil, mode: 0, size: 0, attrs: 0)
        var hostPath: String?
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

    /// The resolved command, bound from its descriptor when it is pinned.
    private let executable: String?

    /// The sandbox user on the host: owner of the tmpfs mounts made on the host side.
    private let owner: (uid: uid_t, gid: gid_t)

    init(plan: IsolationPlan, verified: VerifiedFiles = VerifiedFiles()) throws(LaunchError) {
        self.verified = verified
        executable = plan.command.executable
        owner = (plan.identity.uid, plan.identity.gid)
        canMakeNoswapTmpfs = geteuid() == 0 && Self.inInitialUserNamespace()
        boundSources = plan.mounts.compactMap { entry in
            var st = stat()
            guard entry.kind == .bind, let source = entry.source else { return nil }
            HostReads.note(source)
            guard lstat(source, &st) == 0,
                  (st.st_mode & S_IFMT) != S_IFLNK else { return nil }
            return FilePaths.realPath(source)
        }
        for (index, entry) in plan.mounts.enumerated() {
            try add(entry, index: index)
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
        case LPA_FS_FILE: what = "write \(step.target)"
        default: what = "read-only \(step.target)"
        }
        if step.planIndex >= 0, let origin = plan.mounts[step.planIndex].origin {
            return "\(what) (from \(origin))"
        }
        return what
    }

    /// MOUNT_ATTR_* for a bind, applied recursively after it (window.c `set_attr`).
    static func attributes(_ options: MountOptions) -> UInt64 {
        var attrs: UInt64 = 0
        if options.readOnly { attrs |= UInt64(MOUNT_ATTR_RDONLY) }
        if options.noSuid { attrs |= UInt64(MOUNT_ATTR_NOSUID) }
        if options.noDev { attrs |= UInt64(MOUNT_ATTR_NODEV) }
        if options.noExec { attrs |= UInt64(MOUNT_ATTR_NOEXEC) }
        return attrs
    }

    /// MS_* for mount(2) of a fresh filesystem.
    static func mountFlags(_ options: MountOptions) -> UInt {
        var flags: UInt = 0
        if options.readOnly { flags |= UInt(MS_RDONLY) }
        if options.noSuid { flags |= UInt(MS_NOSUID) }
        if options.noDev { flags |= UInt(MS_NODEV) }
        if options.noExec { flags |= UInt(MS_NOEXEC) }
        return flags
    }

    /// tmpfs mount data: "mode=0700,size=1073741824".
    static func tmpfsData(_ options: MountOptions, defaultMode: UInt32 = 0o755) -> String {
        var data = ["mode=" + MountOptions.octal(options.mode ?? defaultMode)]
        if let size = options.size { data.append("size=\(size)") }
        return data.joined(separator: ",")
    }

    private mutating func add(_ entry: MountEntry, index: Int) throws(LaunchError) {
        switch entry.kind {
        case .bind:
            guard let source = entry.source else { return }
            if entry.verified {
                try addVerified(entry, source: source, index: index)
                return
            }
            // The source is opened here, following only root's links: a link the caller
            // owns may have been planted by an earlier sandbox (in a read-write bind or the
            // agent's project), and binding through it would give this run whatever it
            // points at, ~/.ssh included. The window then checks that what it mounts is
            // this very object (device and inode), so swapping a directory for a link
            // between this check and the mount fails the launch instead of winning a race.
            HostReads.note(source)
            var sourceFd: Int32 = -1
            do throws(FilePaths.Resolution) {
                sourceFd = try FilePaths.openFollowingRootLinksOnly(source)
            } catch {
                switch error {
                case .link(let link, let uid):
                    throw LaunchError(
                        step: "bind \(source)", errno: ELOOP,
                        message: "the bind source passes through \(link), a symbolic link owned by uid \(uid)"
                            + (entry.origin.map { " (asked for at \($0))" } ?? ""),
                        hint: "name the real path in the profile (links owned by root, such as /bin -> usr/bin, are fine)")
                case .failed(let err):
                    if entry.optional && err == ENOENT { return }
                    throw LaunchError(
                        step: "bind \(source)", errno: err,
                        message: "the bind source cannot be used" + (entry.origin.map { " (asked for at \($0))" } ?? ""),
                        hint: "create \(source), remove it from the profile, or mark it `optional: true`")
                }
            }
            mountFds.append(sourceFd)
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
            var step = Step(kind: LPA_FS_BIND, planIndex: index, source: bindSource, target: entry.target,
                            attrSet: Self.attributes(entry.options), targetIsFile: (st.st_mode & S_IFMT) != S_IFDIR,
                            optional: entry.optional, fd: sourceFd)
            step.host.kind = Int32(LPA_HOST_OPEN_SOURCE.rawValue)
            step.hostPath = source
            steps.append(step)
        case .device:
            guard let pattern = entry.source else { return }
            let matches = DeviceNodes.matching(pattern)
            if matches.isEmpty && !entry.optional {
                throw LaunchError(step: "device \(pattern)", errno: ENOENT, message: "no such device",
                                  hint: "check the driver is loaded, or mark the device optional")
            }
            for device in matches {
                let target = pattern == entry.target ? device : entry.target
                steps.append(Step(kind: LPA_FS_BIND, planIndex: index, source: device, target: target,
                                  attrSet: Self.attributes(entry.options), targetIsFile: true, optional: entry.optional))
            }
        case .tmpfs:
            try addTmpfs(entry, index: index, target: entry.target)
        case .proc:
            steps.append(Step(kind: LPA_FS_PROC, planIndex: index, target: entry.target))
        case .protect:
            steps.append(Step(kind: LPA_FS_RDONLY_SELF, planIndex: index, target: entry.target,
                              optional: entry.optional))
        case .devpts:
            steps.append(Step(kind: LPA_FS_DEVPTS, planIndex: index, target: entry.target))
        case .file:
            // Written by the init on its setup tmpfs and bound read-only (window.c
            // bind_generated_file): nothing on the host is created or read.
            steps.append(Step(kind: LPA_FS_FILE, planIndex: index, target: entry.target, data: entry.source ?? "",
                              attrSet: Self.attributes(entry.options), targetIsFile: true))
        case .symlink:
            steps.append(Step(kind: LPA_FS_SYMLINK, planIndex: index, source: entry.source ?? "", target: entry.target))
        case .hide:
            var st = stat()
            let path = entry.source ?? entry.target
            HostReads.note(path)
            if lstat(path, &st) != 0 {
                if errno == ENOENT { return } // nothing to hide
                throw LaunchError(step: "hide \(path)", errno: errno, message: "cannot inspect the path to hide")
            }
            // A link (left by an earlier run, say): what it leads to is not what the profile
            // names, and a mount cannot cover the link itself. The window refuses links on
            // the way to any target inside the sandbox (ELOOP) as well.
            if (st.st_mode & S_IFMT) == S_IFLNK {
                throw LaunchError(step: "hide \(path)" + (entry.origin.map { " (from \($0))" } ?? ""), errno: ELOOP,
                                  message: "the path to hide is a symbolic link",
                                  hint: "hide the link's target by its real path, or remove the link")
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

    private mutating func addTmpfs(_ entry: MountEntry, index: Int, target: String) throws(LaunchError) {
        if entry.options.noswap {
            if canMakeNoswapTmpfs {
                let attrs = Self.attributes(entry.options)
                // fsconfig takes typed values: no text is parsed on either side.
                let mode = entry.options.mode ?? 0o755, size = entry.options.size ?? 0
                var failure = lpa_launch_error()
                let fd = lpa_launch_host_tmpfs(mode, size, 1, attrs, owner.uid, owner.gid, &failure)
                guard fd >= 0 else {
                    let owner = String(cString: failure.step) == "tmpfs owner"
                    throw LaunchError(step: "tmpfs \(target)" + (owner ? ": owner" : " with noswap"), errno: failure.err,
                                      message: "failed",
                                      hint: owner ? nil : "this kernel lacks tmpfs noswap (Linux 6.4+); use `noswap: false` to allow swap")
                }
                mountFds.append(fd)
                var step = Step(kind: LPA_FS_ATTACH, planIndex: index, target: target, fd: fd)
                step.host = lpa_host_step(kind: Int32(LPA_HOST_TMPFS.rawValue), path: nil, mode: mode, size: size, attrs: attrs)
                steps.append(step)
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
            HostReads.noteNoSwapRequired()
        }
        steps.append(Step(kind: LPA_FS_TMPFS, planIndex: index, target: target,
                          data: Self.tmpfsData(entry.options), flags: Self.mountFlags(entry.options)))
    }

    /// A pinned file: bound at its path, and window.c checks that the mounted inode is
    /// the one hashed through the descriptor (ESTALE otherwise).
    private mutating func addVerified(_ entry: MountEntry, source: String, index: Int) throws(LaunchError) {
        guard let fd = verified.descriptors[source] else {
            throw LaunchError(step: "bind \(source)", errno: EBADF,
                              message: "the plan binds a verified file that was not verified",
                              hint: "a plan must list the file under `pins` or `models` with its sha256")
        }
        var (bindSource, target) = (source, entry.target)
        if source == executable, let resolved = verified.executableTarget {
            // The exec'd path may be a link (/usr/bin/python3 -> python3.11): bind the
            // verified file at the name it resolved to, which is what execve reaches.
            (bindSource, target) = (resolved, resolved)
        } else if verified.directoryFiles.contains(source) {
            // A file of a pinned directory that is a link on the host is left to its
            // target, pinned too.
            var st = stat()
            guard lstat(source, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG else { return }
        }
        steps.append(Step(kind: LPA_FS_BIND, planIndex: index, source: bindSource, target: target,
                          attrSet: Self.attributes(entry.options), targetIsFile: true, fd: fd))
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

    /// How each step's descriptor is made on the host, parallel to `cOps`.
    func cHostSteps(arena: CStringArena) -> [lpa_host_step] {
        steps.map { s in
            var host = s.host
            host.path = s.hostPath.map { UnsafePointer(arena.string($0)) }
            return host
        }
    }
}
