// The executor's host-side steps (see lpa_launch.h). Each step used to live in Swift
// (SandboxProcess, UserNamespace, FilePaths); it moved here so that the launch record's
// fast path, which runs before any Swift code, runs the very same steps.
#define _GNU_SOURCE
#include "lpa_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lpa_shims.h"

static int fail(struct lpa_launch_error *error, const char *step, int err) {
    if (error) {
        error->step = step;
        error->err = err;
    }
    errno = err;
    return -1;
}

int lpa_open_trusted_path(const char *path, struct lpa_untrusted_link *link) {
    if (path[0] != '/') {
        errno = EINVAL;
        return -1;
    }
    // The components still to walk, as one string the links are spliced into.
    char pending[2 * 4096 + 2];
    size_t length = strlen(path);
    if (length >= sizeof pending) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(pending, path, length + 1);
    char *rest = pending;
    int directory = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (directory < 0) return -1;
    char shown[4096];   // the path as walked so far, for messages
    size_t shown_length = 0;
    shown[0] = 0;
    int links = 0;
    char component[256];
    char target[4096];
    for (;;) {
        while (*rest == '/') rest++;
        if (*rest == 0) return directory;
        size_t n = strcspn(rest, "/");
        if (n >= sizeof component) {
            close(directory);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(component, rest, n);
        component[n] = 0;
        rest += n;
        if (strcmp(component, ".") == 0) continue;
        int fd = openat(directory, component, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            close(directory);
            errno = err;
            return -1;
        }
        if (shown_length + 1 + n < sizeof shown) {
            shown[shown_length++] = '/';
            memcpy(shown + shown_length, component, n);
            shown_length += n;
            shown[shown_length] = 0;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            int err = errno;
            close(fd);
            close(directory);
            errno = err;
            return -1;
        }
        if (!S_ISLNK(st.st_mode)) {
            close(directory);
            directory = fd;
            continue;
        }
        // A link: only root's are followed (/bin -> usr/bin, /lib64 -> ...).
        links++;
        if (st.st_uid != 0 || links > 40) {
            close(fd);
            close(directory);
            if (st.st_uid != 0) {
                if (link) {
                    memcpy(link->path, shown, shown_length + 1);
                    link->uid = st.st_uid;
                }
                errno = ELOOP;
                return -2;
            }
            errno = ELOOP;
            return -1;
        }
        ssize_t t = readlinkat(fd, "", target, sizeof target - 1);
        int err = errno;
        close(fd);
        if (t <= 0) {
            close(directory);
            errno = t == 0 ? ENOENT : err;
            return -1;
        }
        target[t] = 0;
        // pending := target + "/" + rest, in place.
        size_t rest_length = strlen(rest);
        if ((size_t)t + 1 + rest_length >= sizeof pending) {
            close(directory);
            errno = ENAMETOOLONG;
            return -1;
        }
        memmove(pending + t + 1, rest, rest_length + 1);
        memcpy(pending, target, (size_t)t);
        pending[t] = '/';
        rest = pending;
        if (target[0] == '/') {
            close(directory);
            directory = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (directory < 0) return -1;
        }
    }
}

int lpa_launch_host_tmpfs(uint32_t mode, uint64_t size, int noswap, uint64_t attrs, uid_t uid, gid_t gid,
                          struct lpa_launch_error *error) {
    int fd = lpa_fsopen_tmpfs(mode, size, noswap, attrs);
    if (fd < 0) return fail(error, "tmpfs with noswap", errno);
    // Made by root, it would belong to root: the sandbox user must own its home.
    if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) {
        int err = errno;
        close(fd);
        return fail(error, "tmpfs owner", err);
    }
    return fd;
}

int lpa_launch_drop_groups(struct lpa_launch_error *error) {
    if (geteuid() != 0) return 0;
    if (setgroups(0, NULL) != 0) return fail(error, "drop supplementary groups", errno);
    return 0;
}

static void close_pair(int fds[2]) {
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0) close(fds[i]);
    fds[0] = fds[1] = -1;
}

int lpa_launch_spawn(struct lpa_spec *spec, int want_console, struct lpa_launch *launch,
                     struct lpa_launch_error *error) {
    *launch = (struct lpa_launch){ .pid = 0, .pidfd = -1, .sync_fd = -1, .report_fd = -1, .usage_fd = -1,
                                   .console_fd = -1 };
    int sync[2] = { -1, -1 }, usage[2] = { -1, -1 }, report[2] = { -1, -1 }, console[2] = { -1, -1 };
    const char *step = NULL;
    if (lpa_pipe_cloexec(sync) != 0) step = "sync pipe";
    else if (lpa_pipe_cloexec(usage) != 0) step = "tmpfs usage pipe";
    else if (lpa_pipe_cloexec(report) != 0) step = "report pipe";
    else if (want_console && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, console) != 0)
        step = "terminal socket";
    if (step) {
        int err = errno;
        close_pair(sync);
        close_pair(usage);
        close_pair(report);
        close_pair(console);
        return fail(error, step, err);
    }
    spec->sync_fd = sync[0];
    spec->sync_write_fd = sync[1];
    spec->report_fd = report[1];
    spec->usage_fd = usage[1];
    spec->console_fd = console[1];
    spec->launcher_pid = getpid();

    pid_t pid = lpa_spawn(spec);
    int spawn_errno = errno;
    // The init holds its own copies now; ours would keep the pipes from reaching EOF.
    close(sync[0]);
    close(report[1]);
    close(usage[1]);
    if (console[1] >= 0) close(console[1]);
    int pidfd = pid < 0 ? -1 : lpa_pidfd_open(pid);
    int pidfd_errno = errno;
    if (pid < 0 || pidfd < 0) {
        if (pid > 0) {
            kill(pid, SIGKILL);
            int raw;
            while (waitpid(pid, &raw, 0) < 0 && errno == EINTR) {}
        }
        close(sync[1]);
        close(report[0]);
        close(usage[0]);
        if (console[0] >= 0) close(console[0]);
        return pid > 0 ? fail(error, "pidfd_open", pidfd_errno) : fail(error, "clone namespaces", spawn_errno);
    }
    *launch = (struct lpa_launch){ .pid = pid, .pidfd = pidfd, .sync_fd = sync[1], .report_fd = report[0],
                                   .usage_fd = usage[0], .console_fd = console[0] };
    return 0;
}

// Writes all of `text` to a procfs control file that must exist.
static int write_control(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t length = strlen(text);
    ssize_t n = write(fd, text, length);
    int err = errno;
    close(fd);
    if (n < 0) {
        errno = err;
        return -1;
    }
    if ((size_t)n != length) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int lpa_launch_start(struct lpa_launch *launch, uint32_t inside_uid, uint32_t outside_uid,
                     uint32_t inside_gid, uint32_t outside_gid, struct lpa_launch_error *error) {
    char path[64], line[64];
    const char *step = NULL;
    // Unprivileged gid_map writes require setgroups to be denied first; it also stops
    // the workload from dropping groups that restrict it on the host.
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)launch->pid);
    if (write_control(path, "deny") != 0) step = "user namespace: setgroups deny";
    if (!step) {
        snprintf(path, sizeof path, "/proc/%d/uid_map", (int)launch->pid);
        snprintf(line, sizeof line, "%u %u 1\n", inside_uid, outside_uid);
        if (write_control(path, line) != 0) step = "user namespace: uid_map";
    }
    if (!step) {
        snprintf(path, sizeof path, "/proc/%d/gid_map", (int)launch->pid);
        snprintf(line, sizeof line, "%u %u 1\n", inside_gid, outside_gid);
        if (write_control(path, line) != 0) step = "user namespace: gid_map";
    }
    if (!step && lpa_launcher_signals_setup(launch->pidfd) != 0) step = "signal handlers";
    if (!step) {
        unsigned char go = 1;
        ssize_t n;
        do n = write(launch->sync_fd, &go, 1); while (n < 0 && errno == EINTR);
        if (n != 1) step = "start sandbox";
    }
    int err = errno;
    close(launch->sync_fd);
    launch->sync_fd = -1;
    if (step) {
        lpa_launch_kill(launch);
        return fail(error, step, err);
    }
    return 0;
}

enum lpa_setup_outcome lpa_launch_await_setup(struct lpa_launch *launch, struct lpa_report *report,
                                              int *signal) {
    int ticks_since_signal = 0, killed = 0;
    for (;;) {
        struct pollfd ready = { .fd = launch->report_fd, .events = POLLIN };
        if (poll(&ready, 1, 100) > 0) break;
        if (lpa_launcher_interruption() == 0) continue;
        if (++ticks_since_signal >= 10) {
            lpa_pidfd_send_signal(launch->pidfd, SIGKILL);
            killed = 1;
            break;
        }
    }
    // The report, or EOF: the workload's execve succeeded (the pipe is CLOEXEC).
    size_t got = 0;
    while (got < sizeof *report) {
        ssize_t n = read(launch->report_fd, (char *)report + got, sizeof *report - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(launch->report_fd);
    launch->report_fd = -1;
    *signal = lpa_launcher_signals_running();
    if (got == sizeof *report) return LPA_SETUP_FAILED;
    return killed ? LPA_SETUP_INTERRUPTED : LPA_SETUP_STARTED;
}

int lpa_exit_code(int raw) {
    int sig = raw & 0x7f;
    return sig == 0 ? (raw >> 8) & 0xff : 128 + sig;
}

int lpa_launch_wait(struct lpa_launch *launch) {
    if (launch->pid <= 0) return 125;
    int raw = 0;
    while (waitpid(launch->pid, &raw, 0) < 0) {
        if (errno != EINTR) return 125;
    }
    launch->pid = 0;
    return lpa_exit_code(raw);
}

void lpa_launch_kill(struct lpa_launch *launch) {
    if (launch->pid <= 0) return;
    lpa_pidfd_send_signal(launch->pidfd, SIGKILL);
    lpa_launch_wait(launch);
}

int lpa_launch_tmpfs_usage(struct lpa_launch *launch, uint64_t *bytes) {
    if (launch->usage_fd < 0) return -1;
    uint64_t value = 0;
    ssize_t n;
    do n = read(launch->usage_fd, &value, sizeof value); while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof value) return -1;
    *bytes = value;
    return 0;
}

void lpa_launch_release(struct lpa_launch *launch) {
    int *fds[] = { &launch->sync_fd, &launch->report_fd, &launch->usage_fd, &launch->console_fd, &launch->pidfd };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0) close(*fds[i]);
        *fds[i] = -1;
    }
}
