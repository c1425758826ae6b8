// System calls Swift cannot make itself: syscall(2) is variadic, and Swift's Glibc
// module hides the _GNU_SOURCE constants. Each function wraps one call, returns what
// it returns (-1 with errno set on failure) and keeps no state. Used by the ordinary
// launcher process, never by the post-clone window.
#ifndef LPA_SHIMS_H
#define LPA_SHIMS_H

#include <stdint.h>
#include <sys/types.h>
// CLONE_NEW* for Swift (Namespaces.swift): Glibc's <sched.h> shows them only to
// _GNU_SOURCE, the kernel's header always.
#include <linux/sched.h>

#ifdef __cplusplus
extern "C" {
#endif

/// pipe2(fds, O_CLOEXEC).
int lpa_pipe_cloexec(int fds[2]);
/// memfd_create(name, MFD_CLOEXEC).
int lpa_memfd(const char *name);
/// pidfd_open(pid, 0).
int lpa_pidfd_open(pid_t pid);
/// pidfd_send_signal(pidfd, sig, NULL, 0).
int lpa_pidfd_send_signal(int pidfd, int sig);
/// ioctl(fd, TIOCGWINSZ, size): `size` is a struct winsize (ioctl is variadic).
int lpa_window_size(int fd, void *size);

/// A detached tmpfs mount: fsopen("tmpfs") + fsconfig(mode, size, noswap) +
/// fsmount(attrs), for move_mount in the post-clone window. `mode` is the root
/// directory's permission bits, `size_bytes` 0 keeps the kernel's default, `noswap`
/// non-zero sets the flag, `attrs` are MOUNT_ATTR_*. Returns the mount descriptor
/// (close-on-exec).
int lpa_fsopen_tmpfs(uint32_t mode, uint64_t size_bytes, int noswap, uint64_t attrs);

#ifdef __cplusplus
}
#endif
#endif
