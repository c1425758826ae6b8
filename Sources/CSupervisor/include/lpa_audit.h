// The audit supervisor's C half (audit.c): seccomp user notifications for every call
// the plan denies (answered with the plan's errno) and for connect/sendto with an
// address (answered ENETUNREACH off loopback, continued on loopback: the same outcome
// as the empty network namespace, but recorded). See ARCHITECTURE.md ("Audit").
//
// C knows no syscall by name. The Swift side (Audit/AuditRule.swift) describes each
// rule: the answer, and a role per argument that says what to read from the caller's
// memory. C receives the notification, reads those bytes while the caller is stopped,
// answers, and only then hands a raw record to the Swift side, which formats the log
// line and the report.
#ifndef LPA_AUDIT_H
#define LPA_AUDIT_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lpa_audit_kind {
    LPA_AUDIT_DENY = 1,      // answer with `err`
    LPA_AUDIT_EGRESS,        // loopback address continues, anything else ENETUNREACH
};

// What an argument of the call is, as far as the supervisor must read it.
enum lpa_audit_role {
    LPA_AUDIT_ARG_VALUE = 0, // the number only (every record carries all six)
    LPA_AUDIT_ARG_STRING,    // a NUL-terminated string in the caller's memory (a path)
    LPA_AUDIT_ARG_ADDRESS,   // a struct sockaddr in the caller's memory
    LPA_AUDIT_ARG_LENGTH,    // the byte length of the ADDRESS argument
};

enum {
    LPA_AUDIT_ARGS = 6,
    LPA_AUDIT_READ_MAX = 255,  // bytes read for one STRING argument, and of the executable's path
};

struct lpa_audit_rule {
    int32_t nr;              // native syscall number
    int32_t kind;            // enum lpa_audit_kind
    int32_t err;             // errno for LPA_AUDIT_DENY
    uint8_t roles[LPA_AUDIT_ARGS];  // enum lpa_audit_role per argument
};

// One refused call. Pointers are valid only during the sink call.
struct lpa_audit_record {
    uint32_t rule;           // index into lpa_audit_spec.rules
    int32_t err;             // the errno the call was answered with
    uint32_t host_pid;       // the caller, as the launcher sees it
    int64_t pid;             // the caller as the sandbox sees it (NSpid), host_pid when unknown
    int64_t time_sec;        // CLOCK_REALTIME when the notification arrived
    int64_t time_nsec;
    uint64_t args[LPA_AUDIT_ARGS];
    // The bytes read for STRING (without the NUL) and ADDRESS arguments; length -1:
    // not asked for, or unreadable.
    const uint8_t *data[LPA_AUDIT_ARGS];
    int32_t data_length[LPA_AUDIT_ARGS];
    const uint8_t *exe;      // readlink /proc/PID/exe, exe_length bytes (0: unknown)
    uint32_t exe_length;
};

typedef void (*lpa_audit_sink)(const struct lpa_audit_record *record, void *context);

struct lpa_audit_spec {
    int listener;            // the seccomp notification fd, received from the workload
    const struct lpa_audit_rule *rules;
    size_t rule_count;
    lpa_audit_sink sink;     // called for every refused call, after the answer was sent, on
                             // the thread that runs lpa_audit_run
    void *context;
    // Record mode (`lpa-run learn`): NULL outside it. Notifications for calls the filter
    // would have allowed (every number without a rule here) are answered CONTINUE and
    // their number set in this bitmap (bit nr of word nr/64), as are egress calls. Numbers
    // at or past seen_words*64, or from another architecture than `arch` (AUDIT_ARCH_*;
    // the filter kills other ABIs before any notification), are counted in `unrecorded`.
    uint64_t *seen;
    size_t seen_words;
    uint32_t arch;
    uint64_t unrecorded;
};

// Answers one pending notification; returns -1 when the listener is gone.
int lpa_audit_handle(struct lpa_audit_spec *audit);

// The audit thread's loop: answers notifications until the init exits (its pidfd is
// readable), `stop_fd` becomes readable, or no task uses the filter any more (the
// listener reports POLLHUP). Signals should be blocked on the calling thread. Returns 0,
// or -1 with errno when poll failed.
int lpa_audit_run(struct lpa_audit_spec *audit, int init_pidfd, int stop_fd);

// Receives the listener the workload sends just before execve (lpa_control.h,
// message 3); -1 on failure.
int lpa_audit_receive_listener(int sock);

// Whether a connection to this socket address stays on this machine: 127.0.0.0/8,
// ::1, ::ffff:127.0.0.0/104 (IPv4-mapped loopback), and every non-IP family (unix
// sockets are governed by the filesystem and the network namespace). `length` bytes
// of the address are known; fewer than a family: not loopback.
int lpa_audit_is_loopback(const void *address, size_t length);

#ifdef __cplusplus
}
#endif
#endif
