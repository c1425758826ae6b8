// The post-clone window: see lpa_window.h and ARCHITECTURE.md ("Process model").
// Rules for this file: no malloc, no stdio, no locks, no Swift; raw system calls,
// stack buffers, and libcap calls that wrap prctl/capset. Every failure is reported
// to the parent as (step, index, errno) and ends the child, so the parent can name
// the step and refuse to run (exit 125) instead of running with less isolation.
#define _GNU_SOURCE
#include "lpa_window.h"
#include "lpa_control.h"
#include "lpa_fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
// Landlock (linux/landlock.h of older systems lacks `scoped`, ABI 6, Linux 6.12).
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#define LPA_LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#define LPA_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LPA_LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#define LPA_LANDLOCK_RULE_PATH_BENEATH 1
#define LPA_LANDLOCK_RULE_NET_PORT 2
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
struct lpa_landlock_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
struct lpa_landlock_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
} __attribute__((packed));
struct lpa_landlock_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

const int lpa_forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
const size_t lpa_forwarded_signal_count = sizeof(lpa_forwarded_signals) / sizeof(lpa_forwarded_signals[0]);

// Exit codes of the init/workload when setup fails: the parent reads the report and
// turns it into 125/126/127 with a message; these are only a fallback.
enum { EXIT_SETUP = 125, EXIT_NOEXEC = 126, EXIT_NOTFOUND = 127 };

static const char OLD_ROOT[] = "/oldroot";
static const char NEW_ROOT[] = "/newroot";

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

__attribute__((noreturn)) static void fail(const struct lpa_spec *s, int step, int index, int err) {
    struct lpa_report r = {step, index, err};
    write_all(s->report_fd, &r, sizeof r);
    int code = EXIT_SETUP;
    if (step == LPA_STEP_EXECVE) code = (err == ENOENT || err == ENOTDIR) ? EXIT_NOTFOUND : EXIT_NOEXEC;
    syscall(SYS_exit_group, code);
    __builtin_unreachable();
}

// a + b into buf; false when it does not fit.
static int join(char *buf, size_t size, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > size) return 0;
    memcpy(buf, a, la);
    memcpy(buf + la, b, lb + 1);
    return 1;
}

static void close_keeping_errno(int fd) {
    int saved = errno;
    close(fd);
    errno = saved;
}

// One component, beneath `dir`, as an O_PATH descriptor: no symbolic link is followed
// (ELOOP), nothing is opened for reading or writing (a FIFO cannot block us), ".."
// cannot climb out (EXDEV). Mount points are crossed into what is mounted there.
static int open_component(int dir, const char *name) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dir, name, &how, sizeof how);
}

// Resolves `path` (absolute inside the new root) from `root` one component at a time,
// as crun's safe_openat does: whatever an earlier run planted under a read-write bind
// (a link to elsewhere in the tree or to the host) stops the step instead of moving it.
// With `create`, missing components are made: directories (the last with `mode`), or
// the last as an empty file when `file` is set (mknodat: never opened). Returns an
// O_PATH descriptor of the target.
// A path with no "." or ".." component: resolved whole, it is resolved exactly as one
// component at a time (openat2's RESOLVE_BENEATH would allow "a/../b", which the
// component walk refuses).
static int plain_path(const char *path) {
    for (const char *p = path; *p != '\0';) {
        while (*p == '/') p++;
        const char *name = p;
        while (*p != '\0' && *p != '/') p++;
        size_t n = (size_t)(p - name);
        if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.')) return 0;
    }
    return 1;
}

static int open_target(int root, const char *path, int create, int file, mode_t mode) {
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len + 1 > sizeof buf) { errno = ENAMETOOLONG; return -1; }
    // Most targets exist already: one openat2 with the same rules (no link anywhere on
    // the way, nothing above the root) instead of one per component. A missing
    // component is made by the walk below.
    const char *relative = path;
    while (*relative == '/') relative++;
    if (*relative != '\0' && plain_path(relative)) {
        int whole = open_component(root, relative);
        if (whole >= 0 || errno != ENOENT || !create) return whole;
    }
    memcpy(buf, path, len + 1);
    int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
    if (cur < 0) return -1;
    char *p = buf;
    for (;;) {
        while (*p == '/') p++;
        if (*p == '\0') return cur;
        char *name = p;
        while (*p != '\0' && *p != '/') p++;
        if (*p == '/') *p++ = '\0';
        const char *rest = p;
        while (*rest == '/') rest++;
        int last = *rest == '\0';
        int next = open_component(cur, name);
        if (next < 0 && errno == ENOENT && create) {
            int made = last && file ? mknodat(cur, name, S_IFREG | 0644, 0) : mkdirat(cur, name, last ? mode : 0755);
            if (made != 0 && errno != EEXIST) {
                close_keeping_errno(cur);
                return -1;
            }
            next = open_component(cur, name);
        }
        close_keeping_errno(cur);
        if (next < 0) return -1;
        cur = next;
    }
}

// The parent directory of `path`, made when missing, and where its last name starts.
static int open_parent(int root, const char *path, char *buf, size_t size, const char **name) {
    size_t len = strlen(path);
    if (len + 1 > size) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, len + 1);
    char *slash = strrchr(buf, '/');
    if (slash == NULL || slash[1] == '\0') { errno = EINVAL; return -1; }
    *name = path + (slash - buf) + 1;
    *slash = '\0';
    return open_target(root, buf, 1, 0, 0755);
}

static int set_attr_fd(int fd, uint64_t attr_set) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attr_set;
    return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
}

static int set_attr(const char *target, uint64_t attr_set, int recursive) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attr_set;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, target, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr);
}

// Attaches a detached mount (open_tree, fsmount) onto the target's O_PATH descriptor.
static int attach(int mnt, int target) {
    return (int)syscall(SYS_move_mount, mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static uint64_t mount_attributes(unsigned long ms_flags) {
    uint64_t attrs = 0;
    if (ms_flags & MS_RDONLY) attrs |= MOUNT_ATTR_RDONLY;
    if (ms_flags & MS_NOSUID) attrs |= MOUNT_ATTR_NOSUID;
    if (ms_flags & MS_NODEV) attrs |= MOUNT_ATTR_NODEV;
    if (ms_flags & MS_NOEXEC) attrs |= MOUNT_ATTR_NOEXEC;
    return attrs;
}

// "key=value,flag,..." as fsconfig calls, split in a stack buffer.
static int configure(int fs, const char *data) {
    char buf[256];
    size_t len = strlen(data);
    if (len + 1 > sizeof buf) { errno = E2BIG; return -1; }
    memcpy(buf, data, len + 1);
    char *p = buf;
    while (*p != '\0') {
        char *item = p;
        while (*p != '\0' && *p != ',') p++;
        if (*p == ',') *p++ = '\0';
        if (*item == '\0') continue;
        char *eq = strchr(item, '=');
        long rc;
        if (eq != NULL) {
            *eq = '\0';
            rc = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, item, eq + 1, 0);
        } else {
            rc = syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, item, NULL, 0);
        }
        if (rc != 0) return -1;
    }
    return 0;
}

// A fresh filesystem (tmpfs, proc, devpts) made with fsopen/fsmount and attached to
// the target's descriptor: no path is resolved again after open_target.
static int mount_fresh(const char *type, const char *data, unsigned long ms_flags, int target) {
    int fs = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
    if (fs < 0) return -1;
    int rc = -1, mnt = -1;
    if ((data == NULL || configure(fs, data) == 0) &&
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0 &&
        (mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, mount_attributes(ms_flags))) >= 0)
        rc = attach(mnt, target);
    close_keeping_errno(fs);
    if (mnt >= 0) close_keeping_errno(mnt);
    return rc;
}

// A recursive bind of the host's `source` (under /oldroot) onto `op->target`. A pinned
// file (op->fd, inherited at clone) must be the very inode lpa-run hashed: the detached
// tree is compared with it before it is attached (ESTALE otherwise). A descriptor from
// the host's mount namespace cannot itself be cloned (EINVAL), so the path is cloned.
static int bind_from_host(int root, const struct lpa_fs_op *op) {
    char source[PATH_MAX];
    if (!join(source, sizeof source, OLD_ROOT, op->source)) { errno = ENAMETOOLONG; return -1; }
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0) return op->optional && errno == ENOENT ? 0 : -1;
    int rc = -1, target = -1;
    struct stat st, verified;
    if (fstat(tree, &st) != 0) goto out;
    if (op->fd >= 0) {
        if (fstat(op->fd, &verified) != 0) goto out;
        if (verified.st_dev != st.st_dev || verified.st_ino != st.st_ino) {
            errno = ESTALE;
            goto out;
        }
    }
    // mount_setattr with AT_RECURSIVE makes every submount read-only too, and only adds
    // flags, so locked flags inherited from the host are never an obstacle.
    if (op->attr_set != 0 && set_attr_fd(tree, op->attr_set) != 0) goto out;
    target = open_target(root, op->target, 1, !S_ISDIR(st.st_mode), 0755);
    if (target >= 0) rc = attach(tree, target);
out:
    close_keeping_errno(tree);
    if (target >= 0) close_keeping_errno(target);
    return rc;
}

// The last component of `path` beneath `root` as an O_PATH descriptor, made as an empty
// file when missing; a symbolic link there is opened itself (O_NOFOLLOW), so a mount
// covers the link instead of following it (the host's /etc/resolv.conf is often a link
// into /run, which the sandbox replaces).
static int open_file_target(int root, const char *path) {
    char buf[PATH_MAX];
    const char *name;
    int parent = open_parent(root, path, buf, sizeof buf, &name);
    if (parent < 0) return -1;
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, parent, name, &how, sizeof how);
    if (fd < 0 && errno == ENOENT && (mknodat(parent, name, S_IFREG | 0644, 0) == 0 || errno == EEXIST))
        fd = (int)syscall(SYS_openat2, parent, name, &how, sizeof how);
    close_keeping_errno(parent);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
            if (S_ISDIR(st.st_mode)) errno = EISDIR;
            close_keeping_errno(fd);
            return -1;
        }
    }
    return fd;
}

// A generated file (LPA_FS_FILE): written to a new file on the setup tmpfs (our cwd, the
// base that is detached with the host's tree), cloned as a detached bind, made read-only,
// and attached onto the target. `index` keeps names apart.
static int bind_generated_file(int root, const struct lpa_fs_op *op, size_t index) {
    char name[32] = "generated-";
    size_t at = strlen(name);
    char digits[20];
    size_t n = 0;
    do digits[n++] = (char)('0' + index % 10); while ((index /= 10) > 0 && n < sizeof digits);
    while (n > 0 && at + 1 < sizeof name) name[at++] = digits[--n];
    name[at] = '\0';
    int fd = openat(AT_FDCWD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (fd < 0) return -1;
    const char *data = op->data != NULL ? op->data : "";
    size_t length = strlen(data);
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            close_keeping_errno(fd);
            return -1;
        }
        data += n;
        length -= (size_t)n;
    }
    close(fd);
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return -1;
    int rc = -1, target = -1;
    if (set_attr_fd(tree, op->attr_set | MOUNT_ATTR_RDONLY) == 0 && (target = open_file_target(root, op->target)) >= 0)
        rc = attach(tree, target);
    close_keeping_errno(tree);
    if (target >= 0) close_keeping_errno(target);
    return rc;
}

static int apply_fs_op(int root, const struct lpa_fs_op *op, size_t index) {
    int target = -1, rc = -1;
    switch (op->kind) {
    case LPA_FS_MKDIR:
        target = open_target(root, op->target, 1, 0, op->mode);
        rc = target < 0 ? -1 : 0;
        break;
    case LPA_FS_TMPFS:
        if ((target = open_target(root, op->target, 1, 0, 0755)) >= 0)
            rc = mount_fresh("tmpfs", op->data, op->flags, target);
        break;
    case LPA_FS_ATTACH:
        if ((target = open_target(root, op->target, 1, 0, 0755)) >= 0) rc = attach(op->fd, target);
        if (rc == 0) close(op->fd);
        break;
    case LPA_FS_BIND:
        return bind_from_host(root, op);
    case LPA_FS_FILE:
        return bind_generated_file(root, op, index);
    case LPA_FS_PROC:
        if ((target = open_target(root, op->target, 1, 0, 0555)) >= 0)
            rc = mount_fresh("proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, target);
        break;
    case LPA_FS_DEVPTS:
        if ((target = open_target(root, op->target, 1, 0, 0755)) >= 0)
            rc = mount_fresh("devpts", "newinstance,ptmxmode=0666,mode=620", MS_NOSUID | MS_NOEXEC, target);
        break;
    case LPA_FS_SYMLINK: {
        char buf[PATH_MAX];
        const char *name;
        if ((target = open_parent(root, op->target, buf, sizeof buf, &name)) >= 0)
            rc = symlinkat(op->source, target, name) == 0 || errno == EEXIST ? 0 : -1;
        break;
    }
    case LPA_FS_RDONLY_SELF: {
        target = open_target(root, op->target, 0, 0, 0);
        if (target < 0) return op->optional && errno == ENOENT ? 0 : -1;
        int tree = (int)syscall(SYS_open_tree, target, "",
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree >= 0) {
            if (set_attr_fd(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) == 0)
                rc = attach(tree, target);
            close_keeping_errno(tree);
        }
        break;
    }
    default:
        errno = EINVAL;
        return -1;
    }
    if (target >= 0) close_keeping_errno(target);
    return rc;
}

// The bubblewrap way: a tmpfs base with newroot/ and oldroot/, pivot into it so the
// host tree stays reachable as /oldroot while the new root is built, then pivot into
// newroot and detach the host tree entirely.
static void setup_filesystem(const struct lpa_spec *s) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(s, LPA_STEP_MAKE_PRIVATE, -1, errno);
    // /tmp is only a place to stand: it is covered in our private mount namespace.
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0)
        fail(s, LPA_STEP_ROOT_TMPFS, -1, errno);
    if (chdir("/tmp") != 0) fail(s, LPA_STEP_ROOT_TMPFS, -1, errno);
    if (mkdir("newroot", 0755) != 0 || mkdir("oldroot", 0755) != 0) fail(s, LPA_STEP_ROOT_TMPFS, -1, errno);
    if (mount("tmpfs", "newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0)
        fail(s, LPA_STEP_ROOT_TMPFS, -1, errno);
    if (syscall(SYS_pivot_root, "/tmp", "oldroot") != 0) fail(s, LPA_STEP_PIVOT_ROOT, -1, errno);
    if (chdir("/") != 0) fail(s, LPA_STEP_PIVOT_ROOT, -1, errno);

    int root = open(NEW_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) fail(s, LPA_STEP_ROOT_TMPFS, -1, errno);
    for (size_t i = 0; i < s->fs_op_count; i++) {
        if (apply_fs_op(root, &s->fs_ops[i], i) != 0) fail(s, LPA_STEP_FS_OP, (int)i, errno);
    }
    close(root);

    if (mount("oldroot", "/oldroot", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(s, LPA_STEP_DETACH_OLD_ROOT, -1, errno);
    if (umount2("/oldroot", MNT_DETACH) != 0) fail(s, LPA_STEP_DETACH_OLD_ROOT, -1, errno);
    int base = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (base < 0) fail(s, LPA_STEP_PIVOT_ROOT, -1, errno);
    if (chdir(NEW_ROOT) != 0) fail(s, LPA_STEP_PIVOT_ROOT, -1, errno);
    if (syscall(SYS_pivot_root, ".", ".") != 0) fail(s, LPA_STEP_PIVOT_ROOT, -1, errno);
    if (fchdir(base) != 0) fail(s, LPA_STEP_PIVOT_ROOT, -1, errno);
    if (umount2(".", MNT_DETACH) != 0) fail(s, LPA_STEP_DETACH_OLD_ROOT, -1, errno);
    close(base);
    if (chdir("/") != 0) fail(s, LPA_STEP_PIVOT_ROOT, -1, errno);
    // The root itself holds only mount points: nothing may be written there.
    if (set_attr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0) != 0)
        fail(s, LPA_STEP_PIVOT_ROOT, -1, errno);
}

static void loopback_up(const struct lpa_spec *s) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(s, LPA_STEP_LOOPBACK, -1, errno);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) fail(s, LPA_STEP_LOOPBACK, -1, errno);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) fail(s, LPA_STEP_LOOPBACK, -1, errno);
    close(fd);
}

static pid_t raw_fork(void) {
    return (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
}

// ---- The workload: hygiene, then seccomp last, then execve. ----

// The LANDLOCK_ACCESS_FS_* rights an ABI knows: 13 in ABI 1, REFER (2), TRUNCATE (3),
// IOCTL_DEV (5). Rules on a file (not a directory) may carry only the file rights.
static uint64_t landlock_fs_rights(long abi) {
    if (abi < 1) return 0;
    uint64_t rights = (1ULL << 13) - 1;
    if (abi >= 2) rights |= 1ULL << 13;
    if (abi >= 3) rights |= 1ULL << 14;
    if (abi >= 5) rights |= 1ULL << 15;
    return rights;
}
#define LPA_LANDLOCK_FILE_RIGHTS ((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 14) | (1ULL << 15))

// Landlock: the second wall, on top of the mounts (see the plan's `landlock`). One
// ruleset with the filesystem rules and, where the kernel has them (ABI 6, Linux
// 6.12), the scopes: the workload can neither signal nor reach the abstract unix
// sockets of any process outside its own domain (the init, lpa-run, and the host:
// with `network: host` the host's X11 and D-Bus abstract sockets are otherwise shared).
// Rule paths are opened without following links; a missing optional path is skipped.
static void apply_landlock(const struct lpa_spec *s) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LPA_LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        if (s->landlock_mode == 2) fail(s, LPA_STEP_LANDLOCK_RULES, -1, abi < 0 ? errno : EOPNOTSUPP);
        return;
    }
    uint64_t fs = s->landlock_mode != 0 ? s->landlock_handled & landlock_fs_rights(abi) : 0;
    uint64_t scoped = abi >= 6 ? (LPA_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LPA_LANDLOCK_SCOPE_SIGNAL) : 0;
    // TCP bind/connect rules (ABI 4): a handled direction allows only the listed ports.
    uint64_t net = abi >= 4 ? s->landlock_handled_net & 3 : 0;
    // `required` (and the degraded mode, whose only network wall this is) never drops
    // port rules silently.
    if (s->landlock_mode == 2 && s->landlock_handled_net != 0 && abi < 4) fail(s, LPA_STEP_LANDLOCK_RULES, -1, EOPNOTSUPP);
    if (fs == 0 && net == 0 && scoped == 0) return;
    int step = fs != 0 || net != 0 ? LPA_STEP_LANDLOCK_RULES : LPA_STEP_LANDLOCK;
    struct lpa_landlock_ruleset_attr attr = {fs, net, scoped};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) fail(s, step, -1, errno);
    for (size_t i = 0; fs != 0 && i < s->landlock_rule_count; i++) {
        const struct lpa_landlock_rule *rule = &s->landlock_rules[i];
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = O_PATH | O_CLOEXEC;
        how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, rule->path, &how, sizeof how);
        if (fd < 0) {
            if (errno == ENOENT && rule->optional) continue;
            fail(s, LPA_STEP_LANDLOCK_RULES, (int)i, errno);
        }
        struct stat st;
        if (fstat(fd, &st) != 0) fail(s, LPA_STEP_LANDLOCK_RULES, (int)i, errno);
        uint64_t access = rule->access & fs;
        if (!S_ISDIR(st.st_mode)) access &= LPA_LANDLOCK_FILE_RIGHTS;
        if (access != 0) {
            struct lpa_landlock_path_beneath_attr beneath = {access, fd};
            if (syscall(SYS_landlock_add_rule, ruleset, LPA_LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) != 0)
                fail(s, LPA_STEP_LANDLOCK_RULES, (int)i, errno);
        }
        close(fd);
    }
    // The workload's own stdin/stdout/stderr, when they are host files (`lpa-run ... >
    // out.txt`): reopening them (/dev/stdout, /proc/self/fd/1) would otherwise fail. The
    // rule gives what the descriptor already gives (its access mode; no truncation of an
    // O_APPEND log); a rule the kernel refuses (an internal mount) is only not added.
    for (int fd = 0; fs != 0 && fd < 3; fd++) {
        struct stat st;
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || (flags & O_PATH) || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        uint64_t access = 0;
        int mode = flags & O_ACCMODE;
        if (mode == O_RDONLY || mode == O_RDWR) access |= 1ULL << 2;                  // READ_FILE
        if (mode == O_WRONLY || mode == O_RDWR) {
            access |= 1ULL << 1;                                                      // WRITE_FILE
            if (!(flags & O_APPEND)) access |= 1ULL << 14;                            // TRUNCATE
        }
        struct lpa_landlock_path_beneath_attr beneath = {access & fs, fd};
        if (beneath.allowed_access != 0)
            syscall(SYS_landlock_add_rule, ruleset, LPA_LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
    }
    for (size_t i = 0; net != 0 && i < s->landlock_port_count; i++) {
        struct lpa_landlock_net_port_attr port = {s->landlock_ports[i].access & net, s->landlock_ports[i].port};
        if (port.allowed_access != 0
            && syscall(SYS_landlock_add_rule, ruleset, LPA_LANDLOCK_RULE_NET_PORT, &port, 0) != 0)
            fail(s, LPA_STEP_LANDLOCK_RULES, (int)(s->landlock_rule_count + i), errno);
    }
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) fail(s, step, -1, errno);
    close(ruleset);
}

__attribute__((noreturn)) static void exec_workload(const struct lpa_spec *s, int tty) {
    // The init is our parent now: if it dies, so do we.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The init's forwarding handlers are not ours (execve would reset them anyway).
    for (size_t i = 0; i < lpa_forwarded_signal_count; i++) signal(lpa_forwarded_signals[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    // The init is not dumpable; execve makes us dumpable by the usual rules anyway, and
    // until then lpa-run's audit supervisor may need to read our memory.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);

    // A session and process group of our own, without the caller's terminal: kill(0),
    // TIOCSPGRP and /dev/tty reach nothing of the host's. The only terminal is the
    // relayed pty (when lpa-run was given one), which becomes our controlling terminal.
    if (setsid() < 0) fail(s, LPA_STEP_SETSID, -1, errno);
    if (tty >= 0) {
        for (int fd = 0; fd < 3; fd++) {
            if ((s->tty_fd_mask & (1U << fd)) && dup2(tty, fd) < 0) fail(s, LPA_STEP_TERMINAL, fd, errno);
        }
        if (ioctl(tty, TIOCSCTTY, 0) != 0) fail(s, LPA_STEP_TERMINAL, -1, errno);
    }
    if (s->null_stdin) {
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0) fail(s, LPA_STEP_TERMINAL, 0, errno);
        if (null != 0) close(null);
    }

    // Inherited descriptors other than 0-2 must not reach the workload. CLOEXEC rather
    // than close, so the report pipe stays open until execve succeeds.
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(s, LPA_STEP_CLOSE_FDS, -1, errno);

    for (size_t i = 0; i < s->rlimit_count; i++) {
        struct rlimit rl = {s->rlimits[i].soft, s->rlimits[i].hard};
        if (syscall(SYS_prlimit64, 0, s->rlimits[i].resource, &rl, NULL) != 0)
            fail(s, LPA_STEP_RLIMIT, (int)i, errno);
    }

    // Capabilities: bounding set first (needs CAP_SETPCAP, which we still hold), then
    // ambient, then permitted/effective/inheritable in one capset.
    for (int cap = 0; s->caps != NULL && cap <= s->last_cap; cap++) {
        int keep = 0;
        for (size_t k = 0; k < s->keep_cap_count; k++) if (s->keep_caps[k] == cap) keep = 1;
        if (!keep && cap_drop_bound((cap_value_t)cap) != 0) fail(s, LPA_STEP_CAPS_BOUNDING, cap, errno);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail(s, LPA_STEP_CAPS_AMBIENT, -1, errno);
    if (s->caps != NULL && cap_set_proc((cap_t)s->caps) != 0) fail(s, LPA_STEP_CAPS_SET, -1, errno);
    for (size_t k = 0; k < s->keep_cap_count; k++) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, s->keep_caps[k], 0, 0) != 0)
            fail(s, LPA_STEP_CAPS_AMBIENT, s->keep_caps[k], errno);
    }

    // Neither setuid binaries nor file capabilities may raise privileges again.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(s, LPA_STEP_NO_NEW_PRIVS, -1, errno);
    apply_landlock(s);
    // The degraded mode's own filter (no UDP, no raw sockets, no io_uring), under the
    // profile's: the kernel answers with the stricter of the two.
    if (s->extra_seccomp != NULL && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, s->extra_seccomp) != 0)
        fail(s, LPA_STEP_SECCOMP, 1, errno);
    if (s->seccomp != NULL) {
        unsigned long flags = s->audit_fd >= 0 ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
        long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, s->seccomp);
        if (listener < 0) fail(s, LPA_STEP_SECCOMP, -1, errno);
        if (s->audit_fd >= 0) {
            // The launcher supervises; we keep no copy, so only it can answer.
            int fd = (int)listener;
            struct lpa_audit_handover handover = {LPA_AUDIT_HANDOVER_TAG};
            if (lpa_fdpass_send(s->audit_fd, &handover, sizeof handover, &fd, 1) != 0)
                fail(s, LPA_STEP_AUDIT, -1, errno);
            close(fd);
        }
    }

    execve(s->exec_path, s->argv, s->envp);
    fail(s, LPA_STEP_EXECVE, -1, errno);
}

// ---- Relays, the sandbox side (lpa_control.h; the launcher side is CSupervisor's relay.c). ----

static void wake_on_child(int sig) { (void)sig; }

static void loopback_address(struct sockaddr_in *a, uint16_t port) {
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

// A unix-socket endpoint's listener at `path` inside: its parent directories are made
// (0755; the compiler checked that the path lies on a tmpfs of the sandbox, so they are
// the sandbox's own), then the socket is bound there. A name that exists already fails
// the bind (EADDRINUSE): nothing is replaced.
static int unix_listener(const struct lpa_spec *s, const char *path, size_t i) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (path[0] != '/' || n >= sizeof a.sun_path) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, ENAMETOOLONG);
    memcpy(a.sun_path, path, n + 1);
    for (size_t k = 1; k < n; k++) {
        if (a.sun_path[k] != '/') continue;
        a.sun_path[k] = 0;
        if (mkdir(a.sun_path, 0755) != 0 && errno != EEXIST) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
        a.sun_path[k] = '/';
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
    if (bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1)) != 0)
        fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
    return fd;
}

// Host endpoints (--connect): listeners on the sandbox's loopback (or at a unix path
// inside) whose connections the launcher relays to the host. Made here, in the
// sandbox's network and mount namespaces.
static void send_connect_listeners(const struct lpa_spec *s) {
    int fds[LPA_CONNECT_LISTENERS_MAX];
    size_t count = s->connect_port_count;
    if (count > LPA_CONNECT_LISTENERS_MAX) fail(s, LPA_STEP_CONNECT_LISTEN, LPA_CONNECT_LISTENERS_MAX, E2BIG);
    for (size_t i = 0; i < count; i++) {
        const char *path = s->connect_paths != NULL ? s->connect_paths[i] : NULL;
        int fd;
        if (path != NULL) {
            fd = unix_listener(s, path, i);
        } else {
            fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            struct sockaddr_in a;
            loopback_address(&a, s->connect_ports[i]);
            if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
        }
        if (listen(fd, 512) != 0) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
        fds[i] = fd;
    }
    struct lpa_connect_listeners message = {(uint32_t)count};
    if (lpa_fdpass_send(s->control_fd, &message, sizeof message, fds, count) != 0) fail(s, LPA_STEP_CONTROL, -1, errno);
    for (size_t i = 0; i < count; i++) close(fds[i]);
}

// The DNS sink's sockets (lpa_dns.h): 127.0.0.1:53 in the sandbox's network namespace,
// UDP and TCP. Port 53 is below ip_unprivileged_port_start: the bind works because the
// init still holds CAP_NET_BIND_SERVICE in the user namespace that owns this network
// namespace (it drops every capability in confine_init, after this). The launcher
// serves them (relay.c, dns.c); the workload never holds them.
static void send_dns_sockets(const struct lpa_spec *s) {
    int fds[2] = {-1, -1};
    int types[2] = {SOCK_DGRAM, SOCK_STREAM};
    for (int i = 0; i < 2; i++) {
        fds[i] = socket(AF_INET, types[i] | SOCK_CLOEXEC, 0);
        if (fds[i] < 0) fail(s, LPA_STEP_DNS_LISTEN, i, errno);
        // No SO_REUSEADDR: on UDP it would let a workload that keeps
        // CAP_NET_BIND_SERVICE bind 127.0.0.1:53 beside the sink and take the other
        // processes' queries unlogged (red team). The network namespace is new: no
        // TIME_WAIT to wait out.
        struct sockaddr_in a;
        loopback_address(&a, 53);
        if (bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0) fail(s, LPA_STEP_DNS_LISTEN, i, errno);
    }
    if (listen(fds[1], 64) != 0) fail(s, LPA_STEP_DNS_LISTEN, 1, errno);
    struct lpa_dns_sockets message = {LPA_DNS_SOCKETS_TAG};
    if (lpa_fdpass_send(s->control_fd, &message, sizeof message, fds, 2) != 0) fail(s, LPA_STEP_CONTROL, -1, errno);
    close(fds[0]);
    close(fds[1]);
}

// Published ports: sockets that live in the sandbox's network namespace, handed out
// unconnected and in batches, so the launcher can connect one to 127.0.0.1:PORT
// inside as soon as a client arrives, without a round trip to us on that path.
static void answer_socket_request(int control) {
    struct lpa_socket_request req;
    ssize_t n;
    do n = recv(control, &req, sizeof req, 0); while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof req) return;
    struct lpa_socket_reply reply = {0, 0};
    int fds[LPA_SOCKET_BATCH_MAX];
    uint32_t want = req.count > LPA_SOCKET_BATCH_MAX ? LPA_SOCKET_BATCH_MAX : req.count;
    while (reply.count < want) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) { reply.err = errno; break; }
        fds[reply.count++] = fd;
    }
    lpa_fdpass_send(control, &reply, sizeof reply, fds, reply.count);
    for (uint32_t i = 0; i < reply.count; i++) close(fds[i]);
}

// ---- Signals: the init forwards to the workload, the launcher to the init. ----

static int pidfd_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

// Installs `handler` for every forwarded signal, each blocking the others while it runs.
static int set_handlers(void (*handler)(int, siginfo_t *, void *), sigset_t *forwarded) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(forwarded);
    for (size_t i = 0; i < lpa_forwarded_signal_count; i++) sigaddset(forwarded, lpa_forwarded_signals[i]);
    sa.sa_mask = *forwarded;
    for (size_t i = 0; i < lpa_forwarded_signal_count; i++) {
        if (sigaction(lpa_forwarded_signals[i], &sa, NULL) != 0) return -1;
    }
    return 0;
}

// The init: only lpa-run can signal it (the workload is in another Landlock domain,
// and it is a pid-1 init besides); everything it is sent goes to the workload. The
// handlers are installed before the start byte is read, with the signals blocked
// until the workload is known: a pid-1 init would drop signals it has no handler for,
// a blocked one keeps them pending.
static volatile int init_target = -1;

static void init_forward(int sig, siginfo_t *info, void *ctx) {
    (void)info;
    (void)ctx;
    int saved = errno;
    if (init_target >= 0) pidfd_signal(init_target, sig);
    errno = saved;
}

// The launcher. Its handlers run on the main thread (the terminal relay's thread
// blocks every signal); the atomics keep the phase switch exact anyway.
static int launcher_init_pidfd = -1;
static int launcher_running = 0;
static int launcher_interrupted = 0;
static int resize_from = -1, resize_master = -1;

static int launcher_forward_claimed = 0;

// Forwards the stopping signal recorded during setup to the init, at most once.
static void forward_recorded_once(void) {
    int sig = __atomic_load_n(&launcher_interrupted, __ATOMIC_SEQ_CST);
    if (sig == 0 || __atomic_exchange_n(&launcher_forward_claimed, 1, __ATOMIC_SEQ_CST) != 0) return;
    int pidfd = __atomic_load_n(&launcher_init_pidfd, __ATOMIC_SEQ_CST);
    if (pidfd >= 0) pidfd_signal(pidfd, sig);
}

static void launcher_forward(int sig, siginfo_t *info, void *ctx) {
    (void)info;
    (void)ctx;
    int saved = errno;
    int pidfd = __atomic_load_n(&launcher_init_pidfd, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&launcher_running, __ATOMIC_SEQ_CST) &&
        (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT)) {
        // During setup a stopping signal is only recorded, and forwarded when the setup
        // is over (lpa_launcher_signals_running): until the init has installed its
        // handlers, the kernel drops a signal sent to a pid namespace's init that has
        // none, and the run would go on as if never asked to stop.
        int none = 0;
        __atomic_compare_exchange_n(&launcher_interrupted, &none, sig, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        // Should this handler run on another thread while the setup ends, the one of
        // the two that sees both flags forwards the recorded signal, exactly once.
        if (__atomic_load_n(&launcher_running, __ATOMIC_SEQ_CST)) forward_recorded_once();
        errno = saved;
        return;
    }
    if (sig == SIGWINCH && __atomic_load_n(&resize_master, __ATOMIC_SEQ_CST) >= 0) {
        struct winsize ws;
        if (ioctl(resize_from, TIOCGWINSZ, &ws) == 0) ioctl(resize_master, TIOCSWINSZ, &ws);
    } else {
        pidfd_signal(pidfd, sig);
    }
    errno = saved;
}

int lpa_launcher_signals_setup(int init_pidfd) {
    __atomic_store_n(&launcher_running, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&launcher_interrupted, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&launcher_forward_claimed, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&launcher_init_pidfd, init_pidfd, __ATOMIC_SEQ_CST);
    sigset_t forwarded;
    if (set_handlers(launcher_forward, &forwarded) != 0) return -1;
    // We may have been started with these blocked (a parent's mask is inherited).
    return sigprocmask(SIG_UNBLOCK, &forwarded, NULL);
}

int lpa_launcher_interruption(void) {
    return __atomic_load_n(&launcher_interrupted, __ATOMIC_SEQ_CST);
}

int lpa_launcher_signals_running(void) {
    // A handler that ran before the store recorded its signal; one after it forwards
    // by itself (both sides use sequentially consistent atomics, so at least one of
    // them sees the other's write, and the claim keeps it to one forward).
    __atomic_store_n(&launcher_running, 1, __ATOMIC_SEQ_CST);
    forward_recorded_once();
    return __atomic_load_n(&launcher_interrupted, __ATOMIC_SEQ_CST);
}

void lpa_launcher_relay_window_size(int from, int master) {
    resize_from = from;
    __atomic_store_n(&resize_master, master, __ATOMIC_SEQ_CST);
}

// ---- The init: pid 1 of the new pid namespace. ----

// Bytes in use on the sandbox's tmpfs mounts, summed: discarded when we exit.
static void report_tmpfs_usage(const struct lpa_spec *s) {
    if (s->usage_fd < 0) return;
    uint64_t used = 0;
    for (size_t i = 0; i < s->fs_op_count; i++) {
        const struct lpa_fs_op *op = &s->fs_ops[i];
        if (op->kind != LPA_FS_TMPFS && op->kind != LPA_FS_ATTACH) continue;
        struct statfs st;
        if (statfs(op->target, &st) == 0 && st.f_blocks >= st.f_bfree)
            used += (uint64_t)(st.f_blocks - st.f_bfree) * (uint64_t)st.f_bsize;
    }
    write_all(s->usage_fd, &used, sizeof used);
}

static int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return EXIT_SETUP;
}

// Closes every descriptor but `keep` (negative entries ignored): the pinned files
// after their inode checks, lpa-run's ends of our pipes and sockets, its published
// listeners, whatever it inherited. clone copied them all.
static void close_all_except(const struct lpa_spec *s, int *keep, size_t n) {
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    }
    unsigned int next = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i] < 0 || (unsigned int)keep[i] < next) continue;
        if ((unsigned int)keep[i] > next && syscall(SYS_close_range, next, (unsigned int)keep[i] - 1, 0) != 0)
            fail(s, LPA_STEP_CLOSE_FDS, -1, errno);
        next = (unsigned int)keep[i] + 1;
    }
    if (syscall(SYS_close_range, next, ~0U, 0) != 0) fail(s, LPA_STEP_CLOSE_FDS, -1, errno);
}

// A pseudo-terminal in the sandbox's own devpts: the master goes to lpa-run, which
// relays it to the caller's terminal; the slave stays here for the workload.
static int open_terminal(const struct lpa_spec *s) {
    int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) fail(s, LPA_STEP_TERMINAL, -1, errno);
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) != 0) fail(s, LPA_STEP_TERMINAL, -1, errno);
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) fail(s, LPA_STEP_TERMINAL, -1, errno);
    if (s->termios != NULL && tcsetattr(slave, TCSANOW, (const struct termios *)s->termios) != 0)
        fail(s, LPA_STEP_TERMINAL, -1, errno);
    if (s->winsize != NULL && ioctl(slave, TIOCSWINSZ, s->winsize) != 0) fail(s, LPA_STEP_TERMINAL, -1, errno);
    struct lpa_terminal_handover handover = {LPA_TERMINAL_HANDOVER_TAG};
    if (lpa_fdpass_send(s->console_fd, &handover, sizeof handover, &master, 1) != 0)
        fail(s, LPA_STEP_TERMINAL, -1, errno);
    close(master);
    return slave;
}

#if defined(__x86_64__)
#define LPA_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define LPA_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "the init's filter needs this architecture's AUDIT_ARCH"
#endif
#define LPA_ALLOW(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

// The init's own filter, loaded once the workload is forked (so it is not inherited):
// what its loop needs (reap, wait, answer socket requests, forward signals, report,
// exit) and nothing else, so an init reached through some kernel bug still cannot
// mount, ptrace, open files or make namespaces. Anything else kills it, and with it
// the sandbox.
static const struct sock_filter init_filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, LPA_AUDIT_ARCH, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),  // the x32 ABI
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
#endif
    LPA_ALLOW(SYS_wait4), LPA_ALLOW(SYS_waitid), LPA_ALLOW(SYS_ppoll), LPA_ALLOW(SYS_rt_sigreturn),
    LPA_ALLOW(SYS_rt_sigprocmask), LPA_ALLOW(SYS_restart_syscall), LPA_ALLOW(SYS_recvfrom),
    LPA_ALLOW(SYS_recvmsg), LPA_ALLOW(SYS_sendmsg), LPA_ALLOW(SYS_sendto), LPA_ALLOW(SYS_socket),
    LPA_ALLOW(SYS_close), LPA_ALLOW(SYS_read), LPA_ALLOW(SYS_write), LPA_ALLOW(SYS_statfs),
    LPA_ALLOW(SYS_pidfd_send_signal), LPA_ALLOW(SYS_getpid), LPA_ALLOW(SYS_exit), LPA_ALLOW(SYS_exit_group),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

static void confine_init(const struct lpa_spec *s) {
    struct sock_fprog program = {(unsigned short)(sizeof init_filter / sizeof init_filter[0]),
                                 (struct sock_filter *)init_filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(s, LPA_STEP_INIT_FILTER, -1, errno);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) fail(s, LPA_STEP_INIT_FILTER, -1, errno);
}

__attribute__((noreturn)) static void run_init(const struct lpa_spec *s) {
    // Our copy of the launcher's end of the sync pipe goes first: should the launcher
    // die before PDEATHSIG is armed, the read below then ends with EOF instead of
    // waiting forever. Then die with the launcher, even when it is SIGKILLed; the
    // kernel then kills the whole pid namespace with us.
    if (s->sync_write_fd >= 0) close(s->sync_write_fd);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(s, LPA_STEP_WAIT_PARENT, -1, errno);
    if (!s->new_pid_ns && getppid() != s->launcher_pid) syscall(SYS_exit_group, EXIT_SETUP);
    // lpa-run's argv and environment are ours too (a copy): /proc/1/cmdline must not show
    // `--env NAME=VALUE`. The label is what `ps` inside shows for pid 1.
    if (s->arg_area != NULL && s->arg_area_len > 0) {
        static const char label[] = "lpa-run-init";
        memset(s->arg_area, 0, s->arg_area_len);
        if (s->arg_area_len > sizeof label) memcpy(s->arg_area, label, sizeof label);
    }
    if (s->env_area != NULL) memset(s->env_area, 0, s->env_area_len);
    // Forwarded signals (and SIGCHLD) stay blocked until the workload is known; the
    // handlers exist from now on so that what lpa-run forwards meanwhile stays pending.
    sigset_t block, waiting;
    if (set_handlers(init_forward, &block) != 0) fail(s, LPA_STEP_SIGNALS, -1, errno);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, NULL);
    char go;
    ssize_t n;
    do n = read(s->sync_fd, &go, 1); while (n < 0 && errno == EINTR);
    if (n != 1) syscall(SYS_exit_group, EXIT_SETUP); // launcher gone or gave up: nothing to report to
    close(s->sync_fd);
    // Become the mapped sandbox user before touching anything (see lpa_spec.uid). A change
    // of ids clears the parent-death signal: set it again.
    if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) != 0 || syscall(SYS_setresuid, s->uid, s->uid, s->uid) != 0)
        fail(s, LPA_STEP_SET_IDS, -1, errno);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(s, LPA_STEP_WAIT_PARENT, -1, errno);
    // (After the change of ids, which resets the dumpable flag.)
    // Not dumpable: the workload cannot open /proc/1/fd, /proc/1/environ or /proc/1/mem,
    // nor ptrace us, even with CAP_SYS_PTRACE inside (our memory belongs to the host's
    // user namespace: we never execve).
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail(s, LPA_STEP_INIT_FILTER, -1, errno);
    // A session of our own: the caller's session, process group and terminal are out of
    // reach of everything in the sandbox.
    if (setsid() < 0) fail(s, LPA_STEP_SETSID, -1, errno);

    if (s->hostname != NULL && sethostname(s->hostname, strlen(s->hostname)) != 0)
        fail(s, LPA_STEP_SETHOSTNAME, -1, errno);
    if (s->new_net_ns) loopback_up(s);
    setup_filesystem(s);
    if (chdir(s->workdir) != 0) fail(s, LPA_STEP_CHDIR, -1, errno);

    if (s->control_fd >= 0 && s->connect_port_count > 0) send_connect_listeners(s);
    if (s->control_fd >= 0 && s->dns_sink) send_dns_sockets(s);
    int tty = s->console_fd >= 0 ? open_terminal(s) : -1;
    int keep[] = {0, 1, 2, s->report_fd, s->audit_fd, s->control_fd, s->usage_fd, tty};
    close_all_except(s, keep, sizeof keep / sizeof keep[0]);

    pid_t workload = raw_fork();
    if (workload < 0) fail(s, LPA_STEP_FORK_WORKLOAD, -1, errno);
    if (workload == 0) exec_workload(s, tty);
    // Our unreaped child: its pidfd cannot name another process. Signals stay blocked
    // until the loop's ppoll (SIGCHLD included: no lost wake-ups).
    init_target = (int)syscall(SYS_pidfd_open, workload, 0);
    if (init_target < 0) fail(s, LPA_STEP_SIGNALS, -1, errno);
    struct sigaction wake;
    memset(&wake, 0, sizeof wake);
    wake.sa_handler = wake_on_child;
    sigemptyset(&wake.sa_mask);
    if (sigaction(SIGCHLD, &wake, NULL) != 0) fail(s, LPA_STEP_SIGNALS, -1, errno);
    // Inside ppoll nothing is blocked, whatever mask lpa-run was started with: signals
    // without a handler are ignored by a pid-1 init anyway.
    sigemptyset(&waiting);
    if (!s->new_pid_ns) prctl(PR_SET_CHILD_SUBREAPER, 1);
    confine_init(s);
    // Our copy of the report pipe must close so the parent sees EOF once execve succeeds.
    close(s->report_fd);
    if (s->audit_fd >= 0) close(s->audit_fd);
    if (tty >= 0) close(tty);

    int control = s->control_fd;
    for (;;) {
        int status;
        pid_t pid;
        // Reap everything that exited: the workload ends the sandbox, orphans we adopted
        // are only collected.
        while ((pid = (pid_t)syscall(SYS_wait4, -1, &status, WNOHANG, NULL)) > 0) {
            if (pid == workload) {
                report_tmpfs_usage(s);
                syscall(SYS_exit_group, exit_code_of(status));
            }
        }
        if (pid < 0 && errno == ECHILD) syscall(SYS_exit_group, EXIT_SETUP);
        struct pollfd pfd = {control, POLLIN, 0};
        int n = ppoll(&pfd, control >= 0 ? 1 : 0, NULL, &waiting);
        if (n > 0 && (pfd.revents & POLLIN)) answer_socket_request(control);
        else if (n > 0 && (pfd.revents & (POLLHUP | POLLERR))) control = -1;
    }
}

// The degraded mode (--isolation landlock): no namespaces and no init, so the mount
// wall, the pid and network namespaces and the id map are all missing; what is left
// is the workload's own hygiene, with Landlock on host paths. As root, the bounding
// set goes first (it needs CAP_SETPCAP), then the supplementary groups and the ids
// (raw syscalls: glibc's setxid would signal threads that exist only in lpa-run).
pid_t lpa_degraded_spawn(const struct lpa_spec *s) {
    pid_t pid = raw_fork();
    if (pid != 0) return pid;
    if (s->degraded_set_ids) {
        for (int cap = 0; cap <= s->last_cap; cap++) {
            if (cap_drop_bound((cap_value_t)cap) != 0) fail(s, LPA_STEP_CAPS_BOUNDING, cap, errno);
        }
        if (syscall(SYS_setgroups, 0, NULL) != 0) fail(s, LPA_STEP_SET_IDS, -1, errno);
        if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) != 0 || syscall(SYS_setresuid, s->uid, s->uid, s->uid) != 0)
            fail(s, LPA_STEP_SET_IDS, -1, errno);
    }
    // No pid namespace takes the workload down with lpa-run: a SIGKILLed lpa-run would
    // leave it running. Armed after the id change, which clears it (as fork does), and
    // checked against a launcher that died before it was armed.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(s, LPA_STEP_WAIT_PARENT, -1, errno);
    if (getppid() != s->launcher_pid) syscall(SYS_exit_group, EXIT_SETUP);
    if (chdir(s->workdir) != 0) fail(s, LPA_STEP_CHDIR, -1, errno);
    exec_workload(s, -1);
}

pid_t lpa_spawn(const struct lpa_spec *spec) {
    pid_t pid = (pid_t)syscall(SYS_clone, spec->clone_flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid != 0) return pid;
    run_init(spec);
}
