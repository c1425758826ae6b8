// The audit supervisor, run from the launcher's event loop (relay.c). It only ever
// answers with a denial or, for a loopback connect, lets the call continue: it never
// turns a denial into success. If lpa-run is gone, the kernel fails every notified
// call with ENOSYS, still a denial (and the sandbox dies with lpa-run anyway).
// Prompts and outputs never reach the log: only call names, addresses, families and
// paths the workload passed to a denied call.
#define _GNU_SOURCE
#include "lpa_audit.h"
#include "lpa_control.h"
#include "lpa_fdpass.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

static ssize_t read_remote(pid_t pid, uint64_t address, void *buf, size_t len) {
    if (address == 0 || len == 0) return -1;
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)address, len};
    return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

// A NUL-terminated string from the workload's memory, made safe for JSON.
static void remote_string(pid_t pid, uint64_t address, char *out, size_t size) {
    char raw[256];
    out[0] = '\0';
    ssize_t n = read_remote(pid, address, raw, sizeof raw - 1);
    if (n <= 0) return;
    raw[n] = '\0';
    size_t o = 0;
    for (ssize_t i = 0; i < n && raw[i] && o + 2 < size; i++) {
        unsigned char c = (unsigned char)raw[i];
        out[o++] = (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) ? '?' : (char)c;
    }
    out[o] = '\0';
}

// "203.0.113.7:443", "[::1]:80", "unix:/path", "unix:@abstract"; sets *loopback.
static void describe_address(pid_t pid, uint64_t address, uint64_t length, char *out, size_t size, int *loopback) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    *loopback = 0;
    size_t len = length > sizeof ss ? sizeof ss : (size_t)length;
    if (read_remote(pid, address, &ss, len) < (ssize_t)sizeof(sa_family_t)) {
        snprintf(out, size, "unreadable address");
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        snprintf(out, size, "%s:%u", ip, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                    (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
        snprintf(out, size, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        // Unix sockets are governed by the filesystem and the network namespace.
        struct sockaddr_un *a = (struct sockaddr_un *)&ss;
        *loopback = 1;
        snprintf(out, size, "unix:%s", a->sun_path[0] ? a->sun_path : "@abstract");
    } else {
        *loopback = 1;  // other families never get this far: socket() filters them
        snprintf(out, size, "family %d", ss.ss_family);
    }
}

static const char *family_name(uint64_t family) {
    switch (family) {
    case AF_UNIX: return "unix";
    case AF_INET: return "inet";
    case AF_INET6: return "inet6";
    case AF_NETLINK: return "netlink";
    case AF_PACKET: return "packet";
    case AF_VSOCK: return "vsock";
    case AF_ALG: return "alg";
    case AF_BLUETOOTH: return "bluetooth";
    default: return NULL;
    }
}

static void describe_call(const struct lpa_audit_rule *rule, const struct seccomp_notif *n, char *out, size_t size) {
    const __u64 *a = n->data.args;
    char path[200];
    out[0] = '\0';
    if (!strcmp(rule->name, "socket") || !strcmp(rule->name, "socketpair")) {
        const char *f = family_name(a[0]);
        if (f) snprintf(out, size, "family %s", f); else snprintf(out, size, "family %llu", (unsigned long long)a[0]);
    } else if (!strcmp(rule->name, "ptrace")) {
        snprintf(out, size, "request %llu pid %lld", (unsigned long long)a[0], (long long)(int)a[1]);
    } else if (!strcmp(rule->name, "mount")) {
        remote_string(n->pid, a[1], path, sizeof path);
        snprintf(out, size, "target %s", path);
    } else if (!strcmp(rule->name, "open") || !strcmp(rule->name, "creat") || !strcmp(rule->name, "swapon") ||
               !strcmp(rule->name, "umount2") || !strcmp(rule->name, "pivot_root")) {
        remote_string(n->pid, a[0], path, sizeof path);
        snprintf(out, size, "path %s", path);
    } else if (!strcmp(rule->name, "openat") || !strcmp(rule->name, "openat2")) {
        remote_string(n->pid, a[1], path, sizeof path);
        snprintf(out, size, "path %s", path);
    } else if (!strcmp(rule->name, "ioctl")) {
        snprintf(out, size, "request 0x%llx", (unsigned long long)a[1]);
    } else if (!strcmp(rule->name, "clone") || !strcmp(rule->name, "unshare")) {
        snprintf(out, size, "flags 0x%llx", (unsigned long long)a[0]);
    }
}

static void iso_time(char *out, size_t size) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

// The pid as the sandbox sees it (last NSpid field) and the executable.
static void describe_process(pid_t pid, long *inner, char *exe, size_t size) {
    char path[64], buf[2048];
    *inner = pid;
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
                if (last) *inner = strtol(last + 1, NULL, 10);
            }
        }
    }
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t len = readlink(path, exe, size - 1);
    exe[len > 0 ? len : 0] = '\0';
    for (ssize_t i = 0; i < len; i++) if (exe[i] == '"' || exe[i] == '\\') exe[i] = '?';
}

static void record(struct lpa_audit_spec *audit, size_t index, const struct seccomp_notif *n,
                   const char *errname, const char *detail) {
    const struct lpa_audit_rule *rule = &audit->rules[index];
    struct lpa_audit_stats *stats = audit->stats;
    stats->blocked++;
    if (stats->per_rule) stats->per_rule[index]++;
    long inner;
    char exe[256], when[40];
    describe_process((pid_t)n->pid, &inner, exe, sizeof exe);
    if (stats->example_count < LPA_AUDIT_EXAMPLES) {
        snprintf(stats->examples[stats->example_count++], LPA_AUDIT_EXAMPLE_LEN, "%s %s%s(%s) by pid %ld %s",
                 rule->name, detail, detail[0] ? " " : "", errname, inner, exe);
    }
    if (audit->log_fd < 0) return;
    iso_time(when, sizeof when);
    char line[1024];
    int len = snprintf(line, sizeof line,
                       "{\"time\":\"%s\",\"action\":\"blocked\",\"syscall\":\"%s\",\"errno\":\"%s\",\"pid\":%ld,"
                       "\"host_pid\":%u,\"exe\":\"%s\",\"detail\":\"%s\"}\n",
                       when, rule->name, errname, inner, n->pid, exe, detail);
    if (len > 0) {
        ssize_t w = write(audit->log_fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
        (void)w;
    }
}

// One notification per call: NOTIF_RECV blocks when nothing is pending, so the
// (level-triggered) event loop calls again while the listener stays readable.
int lpa_audit_handle(struct lpa_audit_spec *audit) {
    {
        struct seccomp_notif n;
        memset(&n, 0, sizeof n);
        if (ioctl(audit->listener, SECCOMP_IOCTL_NOTIF_RECV, &n) != 0) {
            // ENOENT: the caller died before we read it.
            return (errno == EBADF || errno == ENOTTY) ? -1 : 0;
        }
        struct seccomp_notif_resp resp;
        memset(&resp, 0, sizeof resp);
        resp.id = n.id;
        size_t index = audit->rule_count;
        for (size_t i = 0; i < audit->rule_count; i++) {
            if (audit->rules[i].nr == n.data.nr) { index = i; break; }
        }
        char detail[200] = "";
        if (index == audit->rule_count) {
            resp.error = -EPERM;  // not ours to allow: deny
        } else if (audit->rules[index].kind == LPA_AUDIT_EGRESS) {
            int loopback = 0;
            uint64_t address = n.data.args[audit->rules[index].name[0] == 'c' ? 1 : 4];
            uint64_t length = n.data.args[audit->rules[index].name[0] == 'c' ? 2 : 5];
            describe_address((pid_t)n.pid, address, length, detail, sizeof detail, &loopback);
            if (loopback) {
                // Loopback stays inside the sandbox's own network namespace.
                resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            } else {
                resp.error = -ENETUNREACH;
                record(audit, index, &n, "ENETUNREACH", detail);
            }
        } else {
            describe_call(&audit->rules[index], &n, detail, sizeof detail);
            resp.error = -audit->rules[index].err;
            record(audit, index, &n, audit->rules[index].errname, detail);
        }
        if (ioctl(audit->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0 && errno != ENOENT && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

int lpa_audit_receive_listener(int sock) {
    struct lpa_audit_handover handover;
    int fd = -1;
    size_t count = 0;
    if (lpa_fdpass_recv(sock, 0, &handover, sizeof handover, &fd, 1, &count) < 0 || count != 1) return -1;
    return fd;
}
