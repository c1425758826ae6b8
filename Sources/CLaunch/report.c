// The exit report's stream between the front and its reporter (see lpa_report.h): both
// ends of the format, here only.
#define _GNU_SOURCE
#include "lpa_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    MESSAGE_MAX = 1 << 20,     // larger than any one message the front sends
    RULES_MAX = 1 << 16,
};

struct message {
    uint8_t *data;
    size_t length, capacity;
    int failed;
};

static void put(struct message *m, const void *data, size_t length) {
    if (m->failed) return;
    if (m->length + length > m->capacity) {
        size_t capacity = m->capacity ? m->capacity : 256;
        while (capacity < m->length + length) capacity *= 2;
        uint8_t *grown = realloc(m->data, capacity);
        if (!grown) {
            m->failed = 1;
            return;
        }
        m->data = grown;
        m->capacity = capacity;
    }
    memcpy(m->data + m->length, data, length);
    m->length += length;
}

static void put_u32(struct message *m, uint32_t v) { put(m, &v, sizeof v); }

static void put_ostr(struct message *m, const char *s) {
    if (!s) {
        put_u32(m, UINT32_MAX);
        return;
    }
    uint32_t n = (uint32_t)strlen(s);
    put_u32(m, n);
    put(m, s, n);
}

// One message: tag, length, body; the socket never raises SIGPIPE in the front.
static int send_message(int fd, uint8_t tag, struct message *m) {
    if (m->failed || m->length > MESSAGE_MAX) {
        free(m->data);
        errno = ENOMEM;
        return -1;
    }
    uint8_t header[5];
    uint32_t length = (uint32_t)m->length;
    header[0] = tag;
    memcpy(header + 1, &length, sizeof length);
    struct iovec parts[2] = { { header, sizeof header }, { m->data, m->length } };
    size_t total = sizeof header + m->length, sent = 0;
    int status = 0;
    while (sent < total) {
        struct iovec rest[2];
        int count = 0;
        size_t skip = sent;
        for (int i = 0; i < 2; i++) {
            if (skip >= parts[i].iov_len) {
                skip -= parts[i].iov_len;
                continue;
            }
            rest[count].iov_base = (uint8_t *)parts[i].iov_base + skip;
            rest[count].iov_len = parts[i].iov_len - skip;
            skip = 0;
            count++;
        }
        struct msghdr msg = { .msg_iov = rest, .msg_iovlen = (size_t)count };
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            status = -1;
            break;
        }
        sent += (size_t)n;
    }
    free(m->data);
    return status;
}

int lpa_report_send_rules(int fd, const struct lpa_record *record) {
    struct message m = { 0 };
    size_t count = lpa_record_audit_rule_count(record);
    const struct lpa_record_audit_rule *rules = lpa_record_audit_rules(record);
    put_u32(&m, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        put(&m, &rules[i].rule, sizeof rules[i].rule);
        put_ostr(&m, rules[i].syscall ? rules[i].syscall : "");
        put_ostr(&m, rules[i].errno_name ? rules[i].errno_name : "");
        put_ostr(&m, rules[i].expected);
    }
    return send_message(fd, 'R', &m);
}

int lpa_report_send_expected(int fd, const uint64_t *counts, size_t rule_count) {
    struct message m = { 0 };
    uint32_t n = 0;
    for (size_t i = 0; i < rule_count; i++) n += counts[i] > 0;
    put_u32(&m, n);
    for (size_t i = 0; i < rule_count; i++) {
        if (!counts[i]) continue;
        put_u32(&m, (uint32_t)i);
        put(&m, &counts[i], sizeof counts[i]);
    }
    return send_message(fd, 'X', &m);
}

int lpa_report_send_audit(int fd, const struct lpa_audit_record *r) {
    struct message m = { 0 };
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
    return send_message(fd, 'A', &m);
}

int lpa_report_send_dns(int fd, const uint8_t *name, size_t length, uint16_t type, int tcp) {
    struct message m = { 0 };
    uint8_t flag = tcp != 0;
    put(&m, &type, sizeof type);
    put(&m, &flag, sizeof flag);
    put(&m, name, length);
    return send_message(fd, 'D', &m);
}

int lpa_report_send_end(int fd, const struct lpa_report_end *end, const char *step) {
    struct message m = { 0 };
    put(&m, end, sizeof *end);
    if (step) put(&m, step, strlen(step));
    return send_message(fd, 'E', &m);
}

// Reading.

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

struct cursor {
    const uint8_t *at, *end;
    int bad;
};

static int take(struct cursor *c, void *out, size_t length) {
    if (c->bad || (size_t)(c->end - c->at) < length) {
        c->bad = 1;
        return -1;
    }
    memcpy(out, c->at, length);
    c->at += length;
    return 0;
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
