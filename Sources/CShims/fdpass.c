// SCM_RIGHTS send and receive (see lpa_fdpass.h): the window's rules hold here.
#define _GNU_SOURCE
#include "lpa_fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int lpa_fdpass_send(int sock, const void *data, size_t len, const int *fds, size_t count) {
    char control[CMSG_SPACE(sizeof(int) * LPA_FDPASS_MAX)];
    if (count > LPA_FDPASS_MAX) { errno = EINVAL; return -1; }
    struct iovec iov = {(void *)data, len};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (count > 0) {
        memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
    }
    ssize_t n;
    do n = sendmsg(sock, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

int lpa_fdpass_recv(int sock, int flags, void *data, size_t len, int *fds, size_t max, size_t *count) {
    char control[CMSG_SPACE(sizeof(int) * LPA_FDPASS_MAX)];
    struct iovec iov = {data, len};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags); while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    *count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *got = CMSG_DATA(c);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, got + i * sizeof fd, sizeof fd);
            if (*count < max) fds[(*count)++] = fd;
            else close(fd);
        }
    }
    return (int)n;
}
