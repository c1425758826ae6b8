// Kernel feature checks for `lpa-run doctor` (see lpa_doctor.h). Every call either only
// queries the kernel or creates an object that is closed before returning.
#define _GNU_SOURCE
#include "lpa_doctor.h"
#include "lpa_shims.h"
#include <errno.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef LPA_CLOSE_RANGE_CLOEXEC
#define LPA_CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int lpa_seccomp_action_available(uint32_t action) {
    return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0 ? 0 : -errno;
}

int lpa_landlock_abi_version(void) {
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U /* LANDLOCK_CREATE_RULESET_VERSION */);
    return v >= 0 ? (int)v : -errno;
}

int lpa_pidfd_self_check(void) {
    long fd = syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0) return -errno;
    close((int)fd);
    return 0;
}

int lpa_close_range_check(void) {
    return syscall(SYS_close_range, 1U << 30, ~0U, LPA_CLOSE_RANGE_CLOEXEC) == 0 ? 0 : -errno;
}

int lpa_tmpfs_noswap_check(void) {
    int fd = lpa_fsopen_tmpfs(0700, 4096, 1, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    if (fd < 0) return -errno;
    close(fd);
    return 0;
}

int lpa_userns_unshare_check(void) {
    long pid = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) return -errno;
    if (pid == 0) {
        long rc = syscall(SYS_unshare, CLONE_NEWUSER);
        syscall(SYS_exit_group, rc == 0 ? 0 : (errno & 0xff));
    }
    int status = 0;
    while (waitpid((pid_t)pid, &status, 0) < 0) {
        if (errno != EINTR) return -errno;
    }
    if (!WIFEXITED(status)) return -ECHILD;
    return -WEXITSTATUS(status);
}

long lpa_filesystem_type(const char *path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 ? (long)fs.f_type : -errno;
}

long lpa_fd_filesystem_type(int fd) {
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 ? (long)fs.f_type : -errno;
}
