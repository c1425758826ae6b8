#if canImport(Glibc)
import Glibc
#endif
import CShims
import LPAPolicy

/// The degraded mode's only writable place: a fresh directory (mode 0700, owned by the
/// sandbox user) that HOME, TMPDIR and XDG_* point into, removed at exit so caches and
/// temporary files vanish as a tmpfs home would. It must live on a tmpfs
/// ($XDG_RUNTIME_DIR on systemd hosts): lpa-run refuses to put the workload's files on
/// disk, where they would outlive the run after a crash.
///
/// As root the parent belongs to the user the workload drops to, who can rename its
/// entries at any moment: a step by path name could be sent through a link that user
/// planted (root then chowns /etc to them). So the parent is opened once, the directory
/// is made and opened relative to it and checked to be the one root made, and every
/// later step (subdirectories, ownership, removal) goes through those descriptors.
struct PrivateDirectory {
    let path: String
    /// $XDG_RUNTIME_DIR, opened once (O_NOFOLLOW).
    private let parentFD: Int32
    /// The directory's name in the parent, and the directory itself.
    private let name: String
    private let fd: Int32

    static let tmpfsMagic: Int = 0x0102_1994

    static func create(parent: String?, uid: uid_t, gid: gid_t) throws(LaunchError) -> PrivateDirectory {
        let fix = "point XDG_RUNTIME_DIR at a tmpfs directory you own (systemd: /run/user/$(id -u); else a "
            + "directory under /dev/shm), or run without --isolation landlock where user namespaces work"
        guard let parent, parent.hasPrefix("/") else {
            throw LaunchError(step: "private directory", message: "XDG_RUNTIME_DIR is not set: --isolation landlock "
                              + "needs a tmpfs for the workload's private home", hint: fix)
        }
        let parentFD = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard parentFD >= 0 else {
            throw LaunchError(step: "private directory \(parent)", errno: errno,
                              message: "cannot open XDG_RUNTIME_DIR (a link is not followed)", hint: fix)
        }
        var closesParent = true
        defer { if closesParent { close(parentFD) } }
        // The opened directory's filesystem (statfs through the descriptor's /proc link).
        let type = lpa_filesystem_type("/proc/self/fd/\(parentFD)")
        guard type >= 0 else {
            throw LaunchError(step: "private directory \(parent)", errno: Int32(-type),
                              message: "cannot inspect XDG_RUNTIME_DIR", hint: fix)
        }
        guard type == tmpfsMagic else {
            throw LaunchError(step: "private directory \(parent)", message: "XDG_RUNTIME_DIR is not a tmpfs: the "
                              + "workload's home and caches would be written to disk", hint: fix)
        }
        var st = stat()
        guard fstat(parentFD, &st) == 0 else {
            throw LaunchError(step: "private directory \(parent)", errno: errno, message: "cannot inspect XDG_RUNTIME_DIR",
                              hint: fix)
        }
        // Owned by root, the caller or the workload's user, and writable by nobody else
        // unless sticky (/dev/shm): another user must not be able to swap its entries.
        let owners: Set<uid_t> = [0, getuid(), uid]
        guard owners.contains(st.st_uid), st.st_mode & 0o022 == 0 || st.st_mode & 0o1000 != 0 else {
            throw LaunchError(step: "private directory \(parent)", errno: EPERM,
                              message: "XDG_RUNTIME_DIR (owner uid \(st.st_uid), mode \(String(st.st_mode & 0o7777, radix: 8))) "
                                  + "belongs to, or is writable by, a user other than root, the caller and the workload's",
                              hint: fix)
        }
        // As root the workload runs as another user (SUDO_UID or nobody), which must be
        // able to reach its directory: root's own /run/user/0 (mode 0700) is not.
        if getuid() == 0, st.st_uid != uid, st.st_mode & 0o001 == 0, !(st.st_gid == gid && st.st_mode & 0o010 != 0) {
            throw LaunchError(step: "private directory \(parent)", errno: EACCES,
                              message: "the workload's user (uid \(uid)) cannot reach XDG_RUNTIME_DIR",
                              hint: "as root, point XDG_RUNTIME_DIR at a tmpfs directory uid \(uid) can search "
                                  + "(/run/user/\(uid), or a directory under /dev/shm with mode 0711)")
        }

        // A fresh random name (mkdirat fails on any existing entry, link or not).
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var name = ""
        var made = false
        for _ in 0..<100 where !made {
            name = "lpa-run-private." + String((0..<10).map { _ in letters.randomElement()! })
            if mkdirat(parentFD, name, 0o700) == 0 {
                made = true
            } else if errno != EEXIST {
                throw LaunchError(step: "private directory \(parent)", errno: errno,
                                  message: "cannot create the private directory", hint: fix)
            }
        }
        guard made else {
            throw LaunchError(step: "private directory \(parent)", errno: EEXIST, message: "cannot create the private directory")
        }
        let path = parent + "/" + name
        // Opened without following a link, then checked to be ours: owned by us, mode
        // 0700, empty. Whatever the name holds by now, only this descriptor is used.
        let fd = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw LaunchError(step: "private directory \(path)", errno: errno,
                              message: "the new directory was replaced before it could be opened")
        }
        var own = stat()
        guard fstat(fd, &own) == 0, own.st_uid == geteuid(), own.st_mode & 0o777 & ~0o700 == 0, own.st_nlink == 2 else {
            close(fd)
            throw LaunchError(step: "private directory \(path)", errno: EPERM,
                              message: "the new directory was replaced by another one before it could be opened")
        }
        closesParent = false
        let directory = PrivateDirectory(path: path, parentFD: parentFD, name: name, fd: fd)
        do throws(LaunchError) {
            try sys("private directory: chmod") { fchmod(fd, 0o700) }
            for (_, sub) in DegradedPlan.privateVariables where !sub.isEmpty {
                var at = dup(fd)
                for part in sub.split(separator: "/").map(String.init) {
                    if mkdirat(at, part, 0o700) != 0 && errno != EEXIST {
                        let err = errno
                        close(at)
                        throw LaunchError(step: "private directory \(path)/\(sub)", errno: err, message: "cannot create it")
                    }
                    let child = openat(at, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    let err = errno
                    close(at)
                    guard child >= 0 else {
                        throw LaunchError(step: "private directory \(path)/\(sub)", errno: err, message: "cannot open it")
                    }
                    at = child
                    if getuid() == 0 { try sys("private directory: chown \(sub)") { fchown(child, uid, gid) } }
                }
                close(at)
            }
            // Last: until now only root could enter it.
            if getuid() == 0 { try sys("private directory: chown") { fchown(fd, uid, gid) } }
        } catch {
            directory.remove()
            throw error
        }
        return directory
    }

    /// The private path of a plan value: "${LPA_PRIVATE_DIR}/x" becomes "<path>/x".
    func substitute(_ value: String) -> String {
        let placeholder = DegradedPlan.placeholder
        return value.hasPrefix(placeholder) ? path + value.dropFirst(placeholder.count) : value
    }

    /// Removes everything the workload left, through the directory's descriptor, never
    /// following a link it planted (unlinkat on names found through descriptors opened
    /// with O_NOFOLLOW); the directory itself only while its name in the parent is still
    /// this directory (the workload's user may have renamed it, or put a link there).
    func remove() {
        Self.empty(fd, depth: 0)
        var own = stat(), named = stat()
        if fstat(fd, &own) == 0, fstatat(parentFD, name, &named, AT_SYMLINK_NOFOLLOW) == 0,
           own.st_dev == named.st_dev, own.st_ino == named.st_ino {
            unlinkat(parentFD, name, AT_REMOVEDIR)
        }
        close(fd)
        close(parentFD)
    }

    private static func empty(_ fd: Int32, depth: Int) {
        guard depth < 256, let dir = fdopendir(dup(fd)) else { return }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            if unlinkat(fd, name, 0) == 0 { continue }
            let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { continue }
            // A directory the workload made unwritable or unsearchable: give it back to us.
            _ = fchmod(child, 0o700)
            empty(child, depth: depth + 1)
            close(child)
            unlinkat(fd, name, AT_REMOVEDIR)
        }
    }
}
