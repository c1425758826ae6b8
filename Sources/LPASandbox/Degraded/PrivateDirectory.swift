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
struct PrivateDirectory {
    let path: String

    static let tmpfsMagic: Int = 0x0102_1994

    static func create(parent: String?, uid: uid_t, gid: gid_t) throws(LaunchError) -> PrivateDirectory {
        let fix = "point XDG_RUNTIME_DIR at a tmpfs directory you own (systemd: /run/user/$(id -u); else a "
            + "directory under /dev/shm), or run without --isolation landlock where user namespaces work"
        guard let parent, parent.hasPrefix("/") else {
            throw LaunchError(step: "private directory", message: "XDG_RUNTIME_DIR is not set: --isolation landlock "
                              + "needs a tmpfs for the workload's private home", hint: fix)
        }
        let type = lpa_filesystem_type(parent)
        guard type >= 0 else {
            throw LaunchError(step: "private directory \(parent)", errno: Int32(-type),
                              message: "cannot inspect XDG_RUNTIME_DIR", hint: fix)
        }
        guard type == tmpfsMagic else {
            throw LaunchError(step: "private directory \(parent)", message: "XDG_RUNTIME_DIR is not a tmpfs: the "
                              + "workload's home and caches would be written to disk", hint: fix)
        }
        // As root the workload runs as another user (SUDO_UID or nobody), which must be
        // able to reach its directory: root's own /run/user/0 (mode 0700) is not.
        var st = stat()
        if getuid() == 0, stat(parent, &st) == 0, st.st_uid != uid,
           st.st_mode & 0o001 == 0, !(st.st_gid == gid && st.st_mode & 0o010 != 0) {
            throw LaunchError(step: "private directory \(parent)", errno: EACCES,
                              message: "the workload's user (uid \(uid)) cannot reach XDG_RUNTIME_DIR",
                              hint: "as root, point XDG_RUNTIME_DIR at a tmpfs directory uid \(uid) can search "
                                  + "(/run/user/\(uid), or a directory under /dev/shm with mode 0711)")
        }
        var template = Array((parent + "/lpa-run-private.XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw LaunchError(step: "private directory \(parent)", errno: errno, message: "cannot create the private directory",
                              hint: fix)
        }
        let directory = PrivateDirectory(path: String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
                                                      as: UTF8.self))
        do {
            for (_, sub) in DegradedPlan.privateVariables where !sub.isEmpty {
                var path = directory.path
                for part in sub.split(separator: "/") {
                    path += "/" + part
                    if mkdir(path, 0o700) != 0 && errno != EEXIST {
                        throw LaunchError(step: "private directory \(path)", errno: errno, message: "cannot create it")
                    }
                    if getuid() == 0 { _ = chown(path, uid, gid) }
                }
            }
            if getuid() == 0 { try sys("private directory: chown") { chown(directory.path, uid, gid) } }
        } catch let error as LaunchError {
            directory.remove()
            throw error
        } catch {
            directory.remove()
            throw LaunchError(step: "private directory", message: "\(error)")
        }
        return directory
    }

    /// The private path of a plan value: "${LPA_PRIVATE_DIR}/x" becomes "<path>/x".
    func substitute(_ value: String) -> String {
        let placeholder = DegradedPlan.placeholder
        return value.hasPrefix(placeholder) ? path + value.dropFirst(placeholder.count) : value
    }

    /// Removes everything the workload left, never following a link it planted
    /// (unlinkat on names found through descriptors opened with O_NOFOLLOW).
    func remove() {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            Self.empty(fd, depth: 0)
            close(fd)
        }
        rmdir(path)
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
