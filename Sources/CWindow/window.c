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
#include <sys/wait.h>
#include <unistd.h>
#include <linux/seccomp.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

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

// mkdir -p; existing components are fine (they may lie inside read-only binds).
static int mkdir_p(const char *path, mode_t mode) {
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len + 1 > sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST) return -1;
        buf[i] = saved;
    }
    return 0;
}

static int make_parent(const char *path) {
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len + 1 > sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, len + 1);
    char *slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf) return 0;
    *slash = '\0';
    return mkdir_p(buf, 0755);
}

static int make_mount_point(const char *target, int is_file) {
    if (!is_file) return mkdir_p(target, 0755);
    if (make_parent(target) != 0) return -1;
    int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        // An existing file in a read-only bind is still a valid mount point.
        struct stat st;
        if ((errno == EROFS || errno == EEXIST || errno == EACCES) && lstat(target, &st) == 0) return 0;
        return -1;
    }
    close(fd);
    return 0;
}

static int set_attr(const char *target, uint64_t attr_set, int recursive) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attr_set;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, target, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr);
}

static int apply_fs_op(const struct lpa_fs_op *op) {
    char source[PATH_MAX], target[PATH_MAX];
    if (!join(target, sizeof target, NEW_ROOT, op->target)) { errno = ENAMETOOLONG; return -1; }
    switch (op->kind) {
    case LPA_FS_MKDIR:
        return mkdir_p(target, op->mode);
    case LPA_FS_TMPFS:
        if (mkdir_p(target, 0755) != 0) return -1;
        return mount("tmpfs", target, "tmpfs", op->flags, op->data);
    case LPA_FS_ATTACH:
        if (mkdir_p(target, 0755) != 0) return -1;
        if (syscall(SYS_move_mount, op->fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) return -1;
        close(op->fd);
        return 0;
    case LPA_FS_BIND: {
        if (!join(source, sizeof source, OLD_ROOT, op->source)) { errno = ENAMETOOLONG; return -1; }
        struct stat st;
        if (stat(source, &st) != 0) {
            if (op->optional && errno == ENOENT) return 0;
            return -1;
        }
        if (make_mount_point(target, !S_ISDIR(st.st_mode)) != 0) return -1;
        if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) != 0) return -1;
        // mount_setattr with AT_RECURSIVE makes every submount read-only too, and only
        // adds flags, so locked flags inherited from the host are never an obstacle.
        if (op->attr_set != 0 && set_attr(target, op->attr_set, 1) != 0) return -1;
        // A pinned file: what is now mounted must be the inode lpa-run hashed through fd
        // (inherited at clone). A descriptor from the host's mount namespace cannot itself
        // be a bind source (EINVAL), so the path is bound and the result compared.
        if (op->fd >= 0) {
            struct stat verified, mounted;
            if (fstat(op->fd, &verified) != 0 || stat(target, &mounted) != 0) return -1;
            if (verified.st_dev != mounted.st_dev || verified.st_ino != mounted.st_ino) {
                errno = ESTALE;
                return -1;
            }
        }
        return 0;
    }
    case LPA_FS_PROC:
        if (mkdir_p(target, 0555) != 0) return -1;
        return mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    case LPA_FS_DEVPTS:
        if (mkdir_p(target, 0755) != 0) return -1;
        return mount("devpts", target, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620");
    case LPA_FS_SYMLINK:
        if (make_parent(target) != 0) return -1;
        if (symlink(op->source, target) != 0 && errno != EEXIST) return -1;
        return 0;
    case LPA_FS_RDONLY_SELF: {
        struct stat st;
        if (lstat(target, &st) != 0) return (op->optional && errno == ENOENT) ? 0 : -1;
        if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) != 0) return -1;
        return set_attr(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 1);
    }
    default:
        errno = EINVAL;
        return -1;
    }
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

    for (size_t i = 0; i < s->fs_op_count; i++) {
        if (apply_fs_op(&s->fs_ops[i]) != 0) fail(s, LPA_STEP_FS_OP, (int)i, errno);
    }

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

__attribute__((noreturn)) static void exec_workload(const struct lpa_spec *s) {
    // The init is our parent now: if it dies, so do we.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

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
    for (int cap = 0; cap <= s->last_cap; cap++) {
        int keep = 0;
        for (size_t k = 0; k < s->keep_cap_count; k++) if (s->keep_caps[k] == cap) keep = 1;
        if (!keep && cap_drop_bound((cap_value_t)cap) != 0) fail(s, LPA_STEP_CAPS_BOUNDING, cap, errno);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail(s, LPA_STEP_CAPS_AMBIENT, -1, errno);
    if (cap_set_proc((cap_t)s->caps) != 0) fail(s, LPA_STEP_CAPS_SET, -1, errno);
    for (size_t k = 0; k < s->keep_cap_count; k++) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, s->keep_caps[k], 0, 0) != 0)
            fail(s, LPA_STEP_CAPS_AMBIENT, s->keep_caps[k], errno);
    }

    // Neither setuid binaries nor file capabilities may raise privileges again.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(s, LPA_STEP_NO_NEW_PRIVS, -1, errno);
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

// Host endpoints (--connect): listeners on the sandbox's loopback whose connections the
// launcher relays to the host. Made here, in the sandbox's network namespace.
static void send_connect_listeners(const struct lpa_spec *s) {
    int fds[LPA_CONNECT_LISTENERS_MAX];
    size_t count = s->connect_port_count;
    if (count > LPA_CONNECT_LISTENERS_MAX) fail(s, LPA_STEP_CONNECT_LISTEN, LPA_CONNECT_LISTENERS_MAX, E2BIG);
    for (size_t i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a;
        loopback_address(&a, s->connect_ports[i]);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
        if (listen(fd, 512) != 0) fail(s, LPA_STEP_CONNECT_LISTEN, (int)i, errno);
        fds[i] = fd;
    }
    struct lpa_connect_listeners message = {(uint32_t)count};
    if (lpa_fdpass_send(s->control_fd, &message, sizeof message, fds, count) != 0) fail(s, LPA_STEP_CONTROL, -1, errno);
    for (size_t i = 0; i < count; i++) close(fds[i]);
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

// ---- The init: pid 1 of the new pid namespace. ----

static volatile pid_t forward_target = 0;

// Signals a process sent (kill, si_code <= 0) are forwarded; signals the terminal
// generated (SI_KERNEL) already reached the workload through its process group.
static void forward_signal(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    pid_t target = forward_target;
    if (target > 0 && info != NULL && info->si_code <= 0) kill(target, sig);
}

int lpa_forward_signals_to(pid_t pid) {
    forward_target = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (size_t i = 0; i < lpa_forwarded_signal_count; i++) {
        if (sigaction(lpa_forwarded_signals[i], &sa, NULL) != 0) return -1;
        sigaddset(&forwarded, lpa_forwarded_signals[i]);
    }
    // We may have been started with these blocked (a parent's mask is inherited).
    return sigprocmask(SIG_UNBLOCK, &forwarded, NULL);
}

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

__attribute__((noreturn)) static void run_init(const struct lpa_spec *s) {
    // Die with the launcher, even when it is SIGKILLed; the kernel then kills the
    // whole pid namespace with us.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(s, LPA_STEP_WAIT_PARENT, -1, errno);
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

    if (s->hostname != NULL && sethostname(s->hostname, strlen(s->hostname)) != 0)
        fail(s, LPA_STEP_SETHOSTNAME, -1, errno);
    if (s->new_net_ns) loopback_up(s);
    setup_filesystem(s);
    if (chdir(s->workdir) != 0) fail(s, LPA_STEP_CHDIR, -1, errno);

    if (s->control_fd >= 0 && s->connect_port_count > 0) send_connect_listeners(s);

    // Block forwarded signals and SIGCHLD across fork so none is handled before the
    // target is known; SIGCHLD stays blocked except inside ppoll (no lost wake-ups).
    sigset_t block, waiting;
    sigemptyset(&block);
    for (size_t i = 0; i < lpa_forwarded_signal_count; i++) sigaddset(&block, lpa_forwarded_signals[i]);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, NULL);
    pid_t workload = raw_fork();
    if (workload < 0) fail(s, LPA_STEP_FORK_WORKLOAD, -1, errno);
    if (workload == 0) exec_workload(s);
    if (lpa_forward_signals_to(workload) != 0) fail(s, LPA_STEP_SIGNALS, -1, errno);
    struct sigaction wake;
    memset(&wake, 0, sizeof wake);
    wake.sa_handler = wake_on_child;
    sigemptyset(&wake.sa_mask);
    if (sigaction(SIGCHLD, &wake, NULL) != 0) fail(s, LPA_STEP_SIGNALS, -1, errno);
    // Inside ppoll nothing is blocked, whatever mask lpa-run was started with: signals
    // without a handler are ignored by a pid-1 init anyway.
    sigemptyset(&waiting);
    // Our copy of the report pipe must close so the parent sees EOF once execve succeeds.
    close(s->report_fd);
    if (s->audit_fd >= 0) close(s->audit_fd);
    if (!s->new_pid_ns) prctl(PR_SET_CHILD_SUBREAPER, 1);

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

pid_t lpa_spawn(const struct lpa_spec *spec) {
    pid_t pid = (pid_t)syscall(SYS_clone, spec->clone_flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid != 0) return pid;
    run_init(spec);
}
