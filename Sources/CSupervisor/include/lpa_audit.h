// The audit supervisor: seccomp user notifications for every call the plan denies
// (answered with the plan's errno) and for connect/sendto with an address (answered
// ENETUNREACH off loopback, continued on loopback: the same outcome as the empty
// network namespace, but logged). See audit.c and ARCHITECTURE.md ("Audit").
#ifndef LPA_AUDIT_H
#define LPA_AUDIT_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lpa_audit_kind {
    LPA_AUDIT_DENY = 1,      // answer with `err`
    LPA_AUDIT_EGRESS,        // connect/sendto: loopback continues, anything else ENETUNREACH
};

struct lpa_audit_rule {
    int32_t nr;              // native syscall number
    int32_t kind;
    int32_t err;             // errno for LPA_AUDIT_DENY
    const char *name;        // syscall name for the log
    const char *errname;     // "EPERM", for the log
};

enum { LPA_AUDIT_EXAMPLES = 5, LPA_AUDIT_EXAMPLE_LEN = 200 };

struct lpa_audit_stats {
    uint64_t blocked;
    uint64_t *per_rule;      // rule_count counters, owned by the caller
    size_t example_count;
    char examples[LPA_AUDIT_EXAMPLES][LPA_AUDIT_EXAMPLE_LEN];
};

struct lpa_audit_spec {
    int listener;            // the seccomp notification fd, received from the workload
    int log_fd;              // JSON lines, or -1
    const struct lpa_audit_rule *rules;
    size_t rule_count;
    struct lpa_audit_stats *stats;
};

// Answers every pending notification; returns -1 when the listener is gone.
int lpa_audit_handle(struct lpa_audit_spec *audit);

// Receives the listener the workload sends just before execve (lpa_control.h,
// message 3); -1 on failure.
int lpa_audit_receive_listener(int sock);

#ifdef __cplusplus
}
#endif
#endif
