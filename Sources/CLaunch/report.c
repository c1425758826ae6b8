// The exit report's stream between the front and its reporter (see lpa_report.h): both
// ends of the format, here only.
#define _GNU_SOURCE
#include "lpa_report.h"
#include "cursor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    MESSAGE_MAX = 1 << 20,     // larger than any one message the front sends
    RULES_MAX = 1 << 16,
};

// Messages are built in an lpa_bytes buffer (record.c's).
static void put(struct lpa_bytes *m, const void *data, size_t length) { lpa_bytes_put(m, data, length); }

static void put_u32(struct lpa_bytes *m, uint32_t v) { put(m, &v, sizeof v); }

static void put_ostr(struct lpa_bytes *m, const char *s) {
    if (!s) {
        put_u32(m, UINT32_MAX);
        return;
    }
    uint32_t n = (uint32_t)strlen(s);
    put_u32(m, n);
    put(m, s, n);
}

void lpa_report_trace(const char *what) { lpa_trace_line("reporter", what); }

static int send_all(int fd, const uint8_t *data, size_t length) {
    size_t sent = 0;
    while (sent < length) {
        ssize_t n = send(fd, data + sent, length - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        sent += (size_t)n;
    }
    return 0;
}

// One message: tag, length, body, sent (the socket never raises SIGPIPE in the front)
// or spooled until the reporter is connected. Returns 1 when it was sent or spooled,
// 0 when the spool had no room (the caller counts what it stood for), -1 when the
// reporter is gone or memory ran out.
// `reserved`: spooled even when the spool is full (the bounded reserve below).
static int send_message(struct lpa_report_stream *s, uint8_t tag, struct lpa_bytes *m, int reserved) {
    int result = -1;
    uint8_t header[5];
    uint32_t length = (uint32_t)m->length;
    header[0] = tag;
    memcpy(header + 1, &length, sizeof length);
    if (m->failed || m->length > MESSAGE_MAX) {
        errno = ENOMEM;
    } else if (s->fd >= 0) {
        result = send_all(s->fd, header, sizeof header) == 0 && send_all(s->fd, m->data, m->length) == 0 ? 1 : -1;
        if (result < 0) {
            close(s->fd);
            s->fd = -2;
        }
    } else if (s->fd == -2) {
        errno = EPIPE;
    } else if (!reserved && s->spool.length + sizeof header + m->length > LPA_REPORT_SPOOL_MAX) {
        if (!s->spool_full) lpa_report_trace("spool full; the rest is counted");
        s->spool_full = 1;
        result = 0;
    } else {
        size_t before = s->spool.length;
        lpa_bytes_put(&s->spool, header, sizeof header);
        lpa_bytes_put(&s->spool, m->data, m->length);
        if (s->spool.failed) {
            // Out of memory: what was spooled before stays whole.
            s->spool.length = before;
            s->spool.failed = 0;
            errno = ENOMEM;
        } else {
            result = 1;
        }
    }
    free(m->data);
    return result;
}

int lpa_report_connect(struct lpa_report_stream *s, int fd) {
    s->fd = fd;
    int status = send_all(fd, s->spool.data, s->spool.length);
    lpa_bytes_free(&s->spool);
    if (status != 0) {
        close(fd);
        s->fd = -2;
    }
    return status;
}

int lpa_report_send_rules(struct lpa_report_stream *s, const struct lpa_record *record) {
    struct lpa_bytes m = { 0 };
    size_t count = lpa_record_audit_rule_count(record);
    const struct lpa_record_audit_rule *rules = lpa_record_audit_rules(record);
    put_u32(&m, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        put(&m, &rules[i].rule, sizeof rules[i].rule);
        put_ostr(&m, rules[i].syscall ? rules[i].syscall : "");
        put_ostr(&m, rules[i].errno_name ? rules[i].errno_name : "");
        put_ostr(&m, rules[i].expected);
    }
    // The first message: the spool is empty, so it always fits.
    return send_message(s, 'R', &m, 1) == 1 ? 0 : -1;
}

int lpa_report_send_uncounted(struct lpa_report_stream *s) {
    struct lpa_bytes m = { 0 };
    uint32_t n = 0;
    for (size_t i = 0; i < s->rule_count; i++) n += s->uncounted[i] > 0;
    if (n == 0) return 0;
    put_u32(&m, n);
    for (size_t i = 0; i < s->rule_count; i++) {
        if (!s->uncounted[i]) continue;
        put_u32(&m, (uint32_t)i);
        put(&m, &s->uncounted[i], sizeof s->uncounted[i]);
    }
    int sent = send_message(s, 'X', &m, 0);
    if (sent < 0) return -1;
    // A full spool keeps the counts for the end, which the reporter reads connected.
    if (sent == 1) memset(s->uncounted, 0, s->rule_count * sizeof s->uncounted[0]);
    return 0;
}

static uint64_t fnv(uint64_t hash, const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
    return hash;
}

// Whether an egress refusal names a destination not yet in the stream (kept up to
// LPA_REPORT_EGRESS_RESERVE). A destination is what the report prints: family, port
// and address of an IPv4/IPv6 sockaddr (not sin_zero or the flow label, which a
// workload could vary to make one address look like many), else the first 80 bytes.
static int destination_is_new(struct lpa_report_stream *s, const struct lpa_audit_record *r) {
    if (s->egress_named >= LPA_REPORT_EGRESS_RESERVE) return 0;
    const uint8_t *address = NULL;
    size_t length = 0;
    for (int i = 0; i < LPA_AUDIT_ARGS; i++) {
        if (s->rules[r->rule].roles[i] == LPA_AUDIT_ARG_ADDRESS && r->data[i] && r->data_length[i] > 0) {
            address = r->data[i];
            length = (size_t)r->data_length[i];
        }
    }
    uint64_t hash = 0xcbf29ce484222325ULL;
    if (address && length >= 2) {
        sa_family_t family;
        memcpy(&family, address, sizeof family);
        if (family == AF_INET && length >= 8) hash = fnv(hash, address, 8);
        else if (family == AF_INET6 && length >= 24) hash = fnv(fnv(hash, address, 4), address + 8, 16);
        else hash = fnv(hash, address, length < 80 ? length : 80);
    }
    for (size_t i = 0; i < s->egress_named; i++)
        if (s->egress_keys[i] == hash) return 0;
    s->egress_keys[s->egress_named++] = hash;
    return 1;
}

// The names already in the stream (their FNV-1a hashes), up to LPA_REPORT_DNS_RESERVE.
static int dns_name_is_new(struct lpa_report_stream *s, const uint8_t *name, size_t length) {
    uint64_t hash = fnv(0xcbf29ce484222325ULL, name, length);
    for (size_t i = 0; i < s->dns_named; i++)
        if (s->dns_names[i] == hash) return 0;
    if (s->dns_named < LPA_REPORT_DNS_RESERVE) s->dns_names[s->dns_named++] = hash;
    return 1;
}

int lpa_report_send_audit(struct lpa_report_stream *s, const struct lpa_audit_record *r) {
    struct lpa_bytes m = { 0 };
    struct lpa_audit_record fixed = *r;
    for (int i = 0; i < LPA_AUDIT_ARGS; i++) {
        fixed.data[i] = NULL;
        if (!r->data[i] || r->data_length[i] < 0) fixed.data_length[i] = -1;
    }
    fixed.exe = NULL;
    if (!r->exe) fixed.exe_length = 0;
    put(&m, &fixed, sizeof fixed);
    for (int i = 0; i < LPA_AUDIT_ARGS; i++)
        if (fixed.data_length[i] > 0) put(&m, r->data[i], (size_t)fixed.data_length[i]);
    if (fixed.exe_length) put(&m, r->exe, fixed.exe_length);
    if (r->rule >= s->rule_count) {
        lpa_bytes_free(&m);
        return 0;
    }
    // A full spool still takes the first refusal of each rule and the first refusal
    // for each of the first destinations: a flood of one call (or of one address) must
    // not keep another out of the report.
    int reserved = s->detailed[r->rule] == 0;
    if (s->rules && s->rules[r->rule].kind == LPA_AUDIT_EGRESS) reserved |= destination_is_new(s, r);
    int sent = send_message(s, 'A', &m, reserved);
    if (sent == 1) s->detailed[r->rule]++;
    if (sent == 0) s->uncounted[r->rule]++;
    return sent < 0 ? -1 : 0;
}

int lpa_report_send_dns(struct lpa_report_stream *s, const uint8_t *name, size_t length, uint16_t type, int tcp) {
    struct lpa_bytes m = { 0 };
    uint8_t flag = tcp != 0;
    put(&m, &type, sizeof type);
    put(&m, &flag, sizeof flag);
    put(&m, name, length);
    // A full spool still takes the first question for each of the first names.
    int sent = send_message(s, 'D', &m, s->dns_named < LPA_REPORT_DNS_RESERVE && dns_name_is_new(s, name, length));
    if (sent == 0) s->dns_unsent++;
    return sent < 0 ? -1 : 0;
}

int lpa_report_send_end(struct lpa_report_stream *s, const struct lpa_report_end *end, const char *step) {
    struct lpa_bytes m = { 0 };
    put(&m, end, sizeof *end);
    if (step) put(&m, step, strlen(step));
    return send_message(s, 'E', &m, 1) == 1 ? 0 : -1;
}

// Reading.

int lpa_report_from_parent(int fd) {
    int type = 0;
    socklen_t length = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) return 0;
    struct ucred peer;
    length = sizeof peer;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 && length == sizeof peer &&
           peer.pid == getppid();
}

static int read_full(int fd, void *out, size_t length) {
    size_t got = 0;
    while (got < length) {
        ssize_t n = read(fd, (uint8_t *)out + got, length - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return got == 0 && n == 0 ? 0 : -1;
        got += (size_t)n;
    }
    return 1;
}


// A copy of an optional string (NULL for UINT32_MAX); sets bad on a short body.
static char *take_ostr(struct cursor *c, int *present) {
    uint32_t n = 0;
    *present = 0;
    if (take(c, &n, sizeof n) != 0) return NULL;
    if (n == UINT32_MAX) return NULL;
    if ((size_t)(c->end - c->at) < n || memchr(c->at, 0, n)) {
        c->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        c->bad = 1;
        return NULL;
    }
    memcpy(s, c->at, n);
    s[n] = 0;
    c->at += n;
    *present = 1;
    return s;
}

static int read_rules(struct cursor *c, struct lpa_report_reader *r) {
    uint32_t count = 0;
    if (r->rule_items || take(c, &count, sizeof count) != 0 || count > RULES_MAX) return -1;
    r->rule_items = calloc(count ? count : 1, sizeof *r->rule_items);
    r->c_rules = calloc(count ? count : 1, sizeof *r->c_rules);
    if (!r->rule_items || !r->c_rules) return -1;
    for (uint32_t i = 0; i < count; i++) {
        struct lpa_record_audit_rule *item = &r->rule_items[i];
        int present = 0;
        if (take(c, &item->rule, sizeof item->rule) != 0) return -1;
        r->rule_count = i + 1;
        item->syscall = take_ostr(c, &present);
        if (!present) return -1;
        item->errno_name = take_ostr(c, &present);
        if (!present) return -1;
        item->expected = take_ostr(c, &present);
        if (c->bad) return -1;
        r->c_rules[i] = item->rule;
    }
    if (r->rules) r->rules(r->rule_items, r->c_rules, r->rule_count, r->context);
    return 0;
}

static int read_audit(struct cursor *c, struct lpa_report_reader *r) {
    struct lpa_audit_record record;
    if (take(c, &record, sizeof record) != 0 || record.rule >= r->rule_count) return -1;
    for (int i = 0; i < LPA_AUDIT_ARGS; i++) {
        record.data[i] = NULL;
        if (record.data_length[i] < 0) continue;
        if ((size_t)(c->end - c->at) < (size_t)record.data_length[i]) return -1;
        record.data[i] = c->at;
        c->at += record.data_length[i];
    }
    record.exe = NULL;
    if (record.exe_length) {
        if ((size_t)(c->end - c->at) < record.exe_length) return -1;
        record.exe = c->at;
        c->at += record.exe_length;
    }
    if (c->at != c->end) return -1;
    if (r->audit) r->audit(&record, r->context);
    return 0;
}

int lpa_report_read(int fd, struct lpa_report_reader *reader, struct lpa_report_end *end) {
    uint8_t *body = malloc(MESSAGE_MAX);
    if (!body) return -1;
    int result = -1;
    for (;;) {
        uint8_t header[5];
        int got = read_full(fd, header, sizeof header);
        if (got == 0) {
            result = 0;
            break;
        }
        uint32_t length;
        memcpy(&length, header + 1, sizeof length);
        if (got < 0 || length > MESSAGE_MAX || read_full(fd, body, length) != 1) break;
        struct cursor c = { body, body + length, 0 };
        uint8_t tag = header[0];
        if (tag == 'R') {
            if (read_rules(&c, reader) != 0 || c.at != c.end) break;
        } else if (tag == 'X') {
            uint32_t n = 0;
            if (take(&c, &n, sizeof n) != 0) break;
            for (uint32_t i = 0; i < n && !c.bad; i++) {
                uint32_t rule = 0;
                uint64_t count = 0;
                take(&c, &rule, sizeof rule);
                take(&c, &count, sizeof count);
                if (c.bad || rule >= reader->rule_count) c.bad = 1;
                else if (reader->expected) reader->expected(rule, count, reader->context);
            }
            if (c.bad || c.at != c.end) break;
        } else if (tag == 'A') {
            if (read_audit(&c, reader) != 0) break;
        } else if (tag == 'D') {
            uint16_t type = 0;
            uint8_t tcp = 0;
            if (take(&c, &type, sizeof type) != 0 || take(&c, &tcp, sizeof tcp) != 0) break;
            if (reader->dns) reader->dns(c.at, (size_t)(c.end - c.at), type, tcp, reader->context);
        } else if (tag == 'E') {
            if (take(&c, end, sizeof *end) != 0) break;
            size_t n = (size_t)(c.end - c.at);
            if (n) {
                if (memchr(c.at, 0, n)) break;
                reader->step = malloc(n + 1);
                if (!reader->step) break;
                memcpy(reader->step, c.at, n);
                reader->step[n] = 0;
            }
            result = 1;
            break;
        } else {
            break;
        }
    }
    free(body);
    return result;
}

void lpa_report_reader_free(struct lpa_report_reader *r) {
    for (size_t i = 0; i < r->rule_count; i++) {
        free((char *)r->rule_items[i].syscall);
        free((char *)r->rule_items[i].errno_name);
        free((char *)r->rule_items[i].expected);
    }
    free(r->rule_items);
    free(r->c_rules);
    free(r->step);
    r->rule_items = NULL;
    r->c_rules = NULL;
    r->step = NULL;
    r->rule_count = 0;
}
