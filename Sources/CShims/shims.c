// Raw system call wrappers for the launcher (see lpa_shims.h).
#define _GNU_SOURCE
#include "lpa_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int lpa_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int lpa_memfd(const char *name) {
    return (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
}

int lpa_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int lpa_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

// Decimal or octal text of `value` into buf (at least 24 bytes).
static void format_unsigned(char *buf, uint64_t value, unsigned base) {
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % base);
        value /= base;
    } while (value != 0);
    size_t o = 0;
    if (base == 8) buf[o++] = '0';
    while (n > 0) buf[o++] = digits[--n];
    buf[o] = '\0';
}

static int configure(int fs, unsigned int cmd, const char *key, const char *value) {
    return syscall(SYS_fsconfig, fs, cmd, key, value, 0) == 0 ? 0 : -1;
}

int lpa_fsopen_tmpfs(uint32_t mode, uint64_t size_bytes, int noswap, uint64_t attrs) {
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) return -1;
    char text[32];
    format_unsigned(text, mode, 8);
    int rc = configure(fs, FSCONFIG_SET_STRING, "mode", text);
    if (rc == 0 && size_bytes != 0) {
        format_unsigned(text, size_bytes, 10);
        rc = configure(fs, FSCONFIG_SET_STRING, "size", text);
    }
    if (rc == 0 && noswap) rc = configure(fs, FSCONFIG_SET_FLAG, "noswap", NULL);
    if (rc == 0) rc = configure(fs, FSCONFIG_CMD_CREATE, NULL, NULL);
    int mnt = rc == 0 ? (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, (unsigned int)attrs) : -1;
    int e = errno;
    close(fs);
    errno = e;
    return mnt;
}

int lpa_window_size(int fd, void *size) {
    return ioctl(fd, TIOCGWINSZ, size);
}
