// The exit report's stream (report.c): how the front (`lpa-run`, C) hands what a launch
// from a record saw to the core (`lpa-run-core`, Swift), which alone words the exit
// report. The front starts the core as its reporter only when there is something to
// report: a refused call that is not expected, a DNS question, or a launch that ended
// in an error. Most runs start none.
//
// Over a stream socket, front to reporter, native byte order (both run on one machine,
// from one build): messages of { u8 tag, u32 length, length bytes }:
//   'R' the audit rules: u32 n, n x { lpa_audit_rule; str syscall, errno_name; ostr expected }
//   'X' refusals counted without their details: u32 n, n x { u32 rule; u64 count } (the
//       expected ones before the reporter was needed, and any that found the spool full)
//   'A' one refused call: lpa_audit_record's fixed fields, then its data and exe bytes
//   'D' one DNS question: u16 type, u8 tcp, the name's wire bytes
//   'E' the end: struct lpa_report_end, then the failed step's name
// The reporter reads until 'E' or end of stream; a stream that ends without 'E' (the
// front was killed) reports nothing.
#ifndef LPA_REPORT_H
#define LPA_REPORT_H

#include <stdint.h>
#include <stddef.h>
#include "lpa_record.h"

// The core's argv[1] when the front starts it as its reporter (argv[0] is "lpa-run").
#define LPA_REPORTER_ARGUMENT "--lpa-run-internal-report"

#ifdef __cplusplus
extern "C" {
#endif

// What the launch came to, as lpa_record_launch left it.
struct lpa_report_end {
    int32_t result;              // enum lpa_record_result
    int32_t status, signal, quiet, has_tmpfs_bytes, err;
    uint64_t tmpfs_bytes;
    int64_t started_ns;          // CLOCK_MONOTONIC when the front started
    int32_t dns_sink;            // the plan had the DNS sink
    struct lpa_dns_stats dns;
    uint64_t dns_unsent;         // questions the spool had no room for (counted, not named)
};

// Front side: the stream to the reporter. Until the reporter is connected (it could not
// be started yet: the workload may hold every process or descriptor the caller may
// have, and gives them back when it ends) messages wait in a spool of
// LPA_REPORT_SPOOL_MAX bytes. A full spool still takes a bounded reserve, so that a
// flood of one kind cannot keep another out of the report: the first refusal of each
// rule, the first refusal for each of the first LPA_REPORT_EGRESS_RESERVE destinations
// of egress rules, and the first question for each of the first LPA_REPORT_DNS_RESERVE
// names. Beyond that a
// refusal is counted by rule in `uncounted` (sent as 'X'), a question in `dns_unsent`
// (sent with the end): the report's numbers stay whole, its details are the first.
enum {
    LPA_REPORT_SPOOL_MAX = 1 << 20,
    LPA_REPORT_EGRESS_RESERVE = 16,   // AuditSupervisor.destinationLimit
    LPA_REPORT_DNS_RESERVE = 256,     // DNSReportLimits.names
};
struct lpa_report_stream {
    int fd;                  // -1 until connected; -2 once the reporter is gone
    struct lpa_bytes spool;
    const struct lpa_audit_rule *rules;
    size_t rule_count;
    uint64_t *uncounted;     // per rule: refusals not sent one by one
    uint32_t *detailed;      // per rule: refusals sent or spooled one by one
    uint64_t dns_unsent;
    int spool_full;
    uint64_t egress_keys[LPA_REPORT_EGRESS_RESERVE];
    size_t egress_named;
    uint64_t dns_names[LPA_REPORT_DNS_RESERVE];
    size_t dns_named;
};

// With LPA_LAUNCH_RECORD_TRACE=1, one line on stderr: "lpa-run: reporter: WHAT".
void lpa_report_trace(const char *what);

// Each returns 0, or -1 with errno once the reporter is gone (EPIPE) or on ENOMEM.
int lpa_report_send_rules(struct lpa_report_stream *stream, const struct lpa_record *record);
// Sends the counts in `stream->uncounted` (as 'X') and sets them to zero.
int lpa_report_send_uncounted(struct lpa_report_stream *stream);
int lpa_report_send_audit(struct lpa_report_stream *stream, const struct lpa_audit_record *record);
int lpa_report_send_dns(struct lpa_report_stream *stream, const uint8_t *name, size_t length, uint16_t type,
                        int tcp);
int lpa_report_send_end(struct lpa_report_stream *stream, const struct lpa_report_end *end, const char *step);
// Connects the stream to the reporter's socket and sends what the spool holds.
int lpa_report_connect(struct lpa_report_stream *stream, int fd);

// Reporter side: what the stream said, read to its end.
struct lpa_report_reader {
    // Called once, before any event, with the rules and their C view (both valid until
    // lpa_report_reader_free).
    void (*rules)(const struct lpa_record_audit_rule *rules, const struct lpa_audit_rule *c_rules, size_t count,
                  void *context);
    void (*expected)(uint32_t rule, uint64_t count, void *context);
    lpa_audit_sink audit;
    lpa_dns_sink dns;
    void *context;
    // Filled by lpa_report_read.
    struct lpa_record_audit_rule *rule_items;
    struct lpa_audit_rule *c_rules;
    size_t rule_count;
    char *step;
};

// 1 when `fd` is a unix stream socket whose other end is this process's parent (the
// front that started it), else 0.
int lpa_report_from_parent(int fd);

// Reads `fd` to the end: 1 when the stream ended with 'E' (`end` filled), 0 when it
// ended without (nothing to report), -1 when it was malformed.
int lpa_report_read(int fd, struct lpa_report_reader *reader, struct lpa_report_end *end);
void lpa_report_reader_free(struct lpa_report_reader *reader);

#ifdef __cplusplus
}
#endif

#endif
