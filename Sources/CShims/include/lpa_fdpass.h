// Passing descriptors over a unix socket (SCM_RIGHTS): one message, a few bytes of
// data and up to LPA_FDPASS_MAX descriptors. Both halves run in the post-clone window
// as well as in the launcher, so this unit follows the window's rules: raw system
// calls and stack buffers only, no allocation, no stdio, no locks.
#ifndef LPA_FDPASS_H
#define LPA_FDPASS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { LPA_FDPASS_MAX = 64 };

/// sendmsg(2) of `data` with `count` descriptors (MSG_NOSIGNAL, EINTR retried).
/// Returns 0, or -1 with errno set (EINVAL: more than LPA_FDPASS_MAX).
int lpa_fdpass_send(int sock, const void *data, size_t len, const int *fds, size_t count);

/// recvmsg(2) of one message into `data` and the descriptors sent with it
/// (close-on-exec, EINTR retried); at most `max` are kept in `fds`, the rest closed.
/// Returns the byte count (`*count` descriptors kept), or -1 (errno set; end of file
/// is -1 too).
int lpa_fdpass_recv(int sock, int flags, void *data, size_t len, int *fds, size_t max, size_t *count);

#ifdef __cplusplus
}
#endif
#endif
