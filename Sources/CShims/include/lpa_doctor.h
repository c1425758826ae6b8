// Kernel feature checks for `lpa-run doctor`: raw system calls that Glibc does not wrap.
// Each returns a value >= 0 on success or -errno; none changes the caller's state.
#ifndef LPA_DOCTOR_H
#define LPA_DOCTOR_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action): 0 when the kernel knows `action`.
int lpa_seccomp_action_available(uint32_t action);
/// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the ABI version.
int lpa_landlock_abi_version(void);
/// pidfd_open(getpid(), 0), closed at once: 0 when pidfds work.
int lpa_pidfd_self_check(void);
/// close_range over descriptors no process holds (2^30..~0, CLOEXEC): 0 when supported.
int lpa_close_range_check(void);
/// fsopen("tmpfs") + fsconfig("noswap") + FSCONFIG_CMD_CREATE, closed at once: 0 when
/// this caller may create a noswap tmpfs.
int lpa_tmpfs_noswap_check(void);
/// unshare(CLONE_NEWUSER) in a short-lived child (raw clone, no atfork handlers): 0 when
/// this caller may create a user namespace, else -errno of the child's unshare.
int lpa_userns_unshare_check(void);
/// statfs(path).f_type, or -errno.
long lpa_filesystem_type(const char *path);
/// fstatfs(fd).f_type, or -errno.
long lpa_fd_filesystem_type(int fd);

#define LPA_SECCOMP_RET_KILL_PROCESS 0x80000000U
#define LPA_SECCOMP_RET_ERRNO 0x00050000U
#define LPA_SECCOMP_RET_USER_NOTIF 0x7fc00000U

#ifdef __cplusplus
}
#endif
#endif
