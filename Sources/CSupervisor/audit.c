// The audit supervisor, run from the launcher's event loop (relay.c). It only ever
// answers with a denial or, for a loopback connect, lets the call continue: it never
// turns a denial into success. If lpa-run is gone, the kernel fails every notified
// call with ENOSYS, still a denial (and the sandbox dies with lpa-run anyway).
// Prompts and outputs never reach the log: only numbers, addresses and paths the
// workload passed to a refused call, chosen by the rule's argument roles.
//
// The order per notification: receive, read what the roles ask for while the caller
// is stopped, check the notification is still valid (the reads went to the caller and
// not to a process that reused its pid), answer, then hand the record to the Swift
// side (no formatting or writing before the answer).
//
// It runs on a thread of its own (lpa_audit_run, started by relay.c), so no relay work
// ever delays an answer; nothing here is shared with the relay.
#define _GNU_SOURCE
#include "lpa_audit.h"
#include "lpa_control.h"
#include "lpa_fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

enum { PAGE = 4096 };

// Reads up to `len` bytes at `address` in the caller's memory. Split at the first
// page boundary, so a string that ends just before unmapped memory is still read
// (process_vm_readv transfers whole iovec elements or nothing).
static ssize_t read_remote(pid_t pid, uint64_t address, void *buf, size_t len) {
    if (address == 0 || len == 0) return -1;
    size_t first = PAGE - (size_t)(address % PAGE);
    if (first > len) first = len;
    struct iovec local = {buf, len};
    struct iovec remote[2] = {
        {(void *)(uintptr_t)address, first},
        {(void *)(uintptr_t)(address + first), len - first},
    };
    return process_vm_readv(pid, &local, 1, remote, len > first ? 2 : 1, 0);
}

int lpa_audit_is_loopback(const void *address, size_t length) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (length < sizeof(sa_family_t)) return 0;
    memcpy(&ss, address, length < sizeof ss ? length : sizeof ss);
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
    }
    // Unix sockets are governed by the filesystem and the network namespace; other
    // families never get this far (socket() filters them).
    return 1;
}

// Buffers for what one notification's roles call for; they outlive the sink call.
struct reads {
    uint8_t bytes[LPA_AUDIT_ARGS][LPA_AUDIT_READ_MAX + 1];
    uint8_t exe[LPA_AUDIT_READ_MAX + 1];
};

static int role_index(const struct lpa_audit_rule *rule, int role) {
    for (int i = 0; i < LPA_AUDIT_ARGS; i++) if (rule->roles[i] == role) return i;
    return -1;
}

// Reads the STRING and ADDRESS arguments into `r` and points the record at them.
static void read_arguments(const struct lpa_audit_rule *rule, const struct seccomp_notif *n,
                           struct reads *r, struct lpa_audit_record *rec) {
    int length_arg = role_index(rule, LPA_AUDIT_ARG_LENGTH);
    for (int i = 0; i < LPA_AUDIT_ARGS; i++) {
        rec->data[i] = NULL;
        rec->data_length[i] = -1;
        ssize_t got = -1;
        if (rule->roles[i] == LPA_AUDIT_ARG_STRING) {
            got = read_remote((pid_t)n->pid, n->data.args[i], r->bytes[i], LPA_AUDIT_READ_MAX);
            if (got >= 0) got = (ssize_t)strnlen((const char *)r->bytes[i], (size_t)got);
        } else if (rule->roles[i] == LPA_AUDIT_ARG_ADDRESS) {
            uint64_t length = length_arg >= 0 ? n->data.args[length_arg] : 0;
            size_t want = length > sizeof(struct sockaddr_storage) ? sizeof(struct sockaddr_storage) : (size_t)length;
            got = read_remote((pid_t)n->pid, n->data.args[i], r->bytes[i], want);
        }
        if (got >= 0) {
            rec->data[i] = r->bytes[i];
            rec->data_length[i] = (int32_t)got;
        }
    }
}

// The pid as the sandbox sees it (last NSpid field) and the executable.
static void describe_process(pid_t pid, struct reads *r, struct lpa_audit_record *rec) {
    char path[64], buf[2048];
    rec->pid = pid;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            char *line = strstr(buf, "NSpid:");
            if (line) {
                char *end = strchr(line, '\n');
                if (end) *end = '\0';
                char *last = strrchr(line, '\t');
                if (last) rec->pid = strtol(last + 1, NULL, 10);
            }
        }
    }
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t len = readlink(path, (char *)r->exe, LPA_AUDIT_READ_MAX);
    rec->exe = r->exe;
    rec->exe_length = len > 0 ? (uint32_t)len : 0;
}

// Record mode: one bit per native syscall number that the filter let through.
static void mark_seen(struct lpa_audit_spec *audit, const struct seccomp_notif *n) {
    uint64_t nr = (uint32_t)n->data.nr;
    if (n->data.arch != audit->arch || nr / 64 >= audit->seen_words) {
        audit->unrecorded++;
        return;
    }
    audit->seen[nr / 64] |= 1ULL << (nr % 64);
}

// One notification per call: NOTIF_RECV blocks when nothing is pending, so the
// (level-triggered) event loop calls again while the listener stays readable.
int lpa_audit_handle(struct lpa_audit_spec *audit) {
    struct seccomp_notif n;
    memset(&n, 0, sizeof n);
    if (ioctl(audit->listener, SECCOMP_IOCTL_NOTIF_RECV, &n) != 0) {
        // ENOENT: the caller died before we read it.
        return (errno == EBADF || errno == ENOTTY) ? -1 : 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = n.id;
    size_t index = audit->rule_count;
    for (size_t i = 0; i < audit->rule_count; i++) {
        if (audit->rules[i].nr == n.data.nr) { index = i; break; }
    }
    struct reads reads;
    struct lpa_audit_record rec;
    memset(&rec, 0, sizeof rec);
    int recorded = 0;
    if (index == audit->rule_count && audit->seen != NULL) {
        // Record mode: the filter notifies every call it would otherwise have allowed
        // (SeccompFilter, record). CONTINUE is safe here, unlike in a supervisor that
        // decides from the caller's memory: nothing was read, nothing decided, and the
        // kernel runs the call exactly as the same filter without record mode would.
        mark_seen(audit, &n);
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (index == audit->rule_count) {
        resp.error = -EPERM;  // not ours to allow: deny
    } else {
        const struct lpa_audit_rule *rule = &audit->rules[index];
        read_arguments(rule, &n, &reads, &rec);
        if (rule->kind == LPA_AUDIT_EGRESS) {
            // The filter allows connect/sendto; only the network namespace refuses them.
            if (audit->seen != NULL) mark_seen(audit, &n);
            int address_arg = role_index(rule, LPA_AUDIT_ARG_ADDRESS);
            int32_t known = address_arg >= 0 ? rec.data_length[address_arg] : -1;
            if (audit->seen != NULL && address_arg >= 0 && n.data.args[address_arg] == 0) {
                // Record mode notifies sendto on a connected socket too (no address: the
                // filter's own egress rule would not have notified it): it continues.
                resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            } else if (known > 0 && lpa_audit_is_loopback(rec.data[address_arg], (size_t)known)) {
                // Loopback stays inside the sandbox's own network namespace.
                resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            } else {
                resp.error = -ENETUNREACH;
                recorded = 1;
            }
        } else {
            resp.error = -rule->err;
            recorded = 1;
        }
        if (recorded) {
            rec.rule = (uint32_t)index;
            rec.err = -resp.error;
            rec.host_pid = n.pid;
            rec.time_sec = now.tv_sec;
            rec.time_nsec = now.tv_nsec;
            memcpy(rec.args, n.data.args, sizeof rec.args);
            describe_process((pid_t)n.pid, &reads, &rec);
        }
        // What was read came from the caller only if it is still waiting for this
        // answer; otherwise its pid may be another process's now: answer, log nothing.
        uint64_t id = n.id;
        if (ioctl(audit->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) recorded = 0;
    }
    // Answered from lpa-run's main thread too (relay.c, without relays), where a
    // forwarded signal can interrupt the call: an answer not sent would leave the
    // caller blocked, so EINTR is tried again.
    int sent;
    do sent = ioctl(audit->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp); while (sent != 0 && errno == EINTR);
    int gone = sent != 0 && errno != ENOENT;
    int err = errno;
    if (recorded && audit->sink != NULL) audit->sink(&rec, audit->context);
    errno = err;
    return gone ? -1 : 0;
}

int lpa_audit_run(struct lpa_audit_spec *audit, int init_pidfd, int stop_fd) {
    struct pollfd fds[3] = {
        {.fd = audit->listener, .events = POLLIN},
        {.fd = init_pidfd, .events = POLLIN},
        {.fd = stop_fd, .events = POLLIN},
    };
    for (;;) {
        int n = poll(fds, 3, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (fds[1].revents != 0 || fds[2].revents != 0) return 0;
        if (fds[0].revents & POLLIN) {
            if (lpa_audit_handle(audit) != 0) return 0;
        } else if (fds[0].revents != 0) {
            // POLLHUP/POLLERR: every task using the filter is gone. Polling on would spin.
            return 0;
        }
    }
}

int lpa_audit_receive_listener(int sock) {
    struct lpa_audit_handover handover;
    int fd = -1;
    size_t count = 0;
    if (lpa_fdpass_recv(sock, 0, &handover, sizeof handover, &fd, 1, &count) < 0 || count != 1) return -1;
    return fd;
}
