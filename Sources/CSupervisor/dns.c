// The DNS sink: parse a query, answer NXDOMAIN, tell the launcher the name. See
// lpa_dns.h for why NXDOMAIN and for the limits. Runs on the relay loop's thread
// (relay.c watches lpa_dns_server_fd); nothing here blocks.
#define _GNU_SOURCE
#include "lpa_dns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static uint16_t read16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static void write16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

// A header-only answer (no question echoed): for what cannot be parsed.
static size_t header_answer(const uint8_t *query, uint8_t *answer, int rcode) {
    memset(answer, 0, LPA_DNS_HEADER);
    memcpy(answer, query, 2);                                   // id
    answer[2] = (uint8_t)(0x80 | (query[2] & 0x79));            // QR, opcode, RD kept
    answer[3] = (uint8_t)(0x80 | rcode);                        // RA, rcode
    return LPA_DNS_HEADER;
}

size_t lpa_dns_respond(const uint8_t *query, size_t length, uint8_t *answer, size_t capacity,
                       struct lpa_dns_question *question, int *has_question, int *rcode) {
    *has_question = 0;
    *rcode = LPA_DNS_FORMERR;
    if (query == NULL || answer == NULL || length < LPA_DNS_HEADER || capacity < LPA_DNS_ANSWER_MAX) return 0;
    if (query[2] & 0x80) return 0;                              // a response: never answered
    int opcode = (query[2] >> 3) & 0x0f;
    if (opcode != 0) {
        *rcode = LPA_DNS_NOTIMP;
        return header_answer(query, answer, LPA_DNS_NOTIMP);
    }
    // Exactly one question; answer, authority and additional records (EDNS's OPT) are
    // ignored, as the answer carries none.
    if (read16(query + 4) != 1) return header_answer(query, answer, LPA_DNS_FORMERR);
    size_t at = LPA_DNS_HEADER, name_length = 0;
    for (;;) {
        if (at >= length) return header_answer(query, answer, LPA_DNS_FORMERR);
        uint8_t label = query[at];
        // 0xC0: a compression pointer, 0x40/0x80: extended label types. A question has
        // no earlier name to point to, so a pointer is refused, not followed.
        if (label & 0xC0) return header_answer(query, answer, LPA_DNS_FORMERR);
        size_t take = (size_t)label + 1;
        if (name_length + take > LPA_DNS_NAME_MAX || at + take > length)
            return header_answer(query, answer, LPA_DNS_FORMERR);
        memcpy(question->name + name_length, query + at, take);
        name_length += take;
        at += take;
        if (label == 0) break;
    }
    if (length - at < 4) return header_answer(query, answer, LPA_DNS_FORMERR);
    question->name_length = name_length;
    question->type = read16(query + at);
    question->qclass = read16(query + at + 2);
    at += 4;
    // The answer: the header with QR and RA set and NXDOMAIN, then the question as asked.
    size_t size = LPA_DNS_HEADER + name_length + 4;
    memset(answer, 0, LPA_DNS_HEADER);
    memcpy(answer, query, 2);
    answer[2] = (uint8_t)(0x80 | (query[2] & 0x79));
    answer[3] = (uint8_t)(0x80 | LPA_DNS_NXDOMAIN);
    write16(answer + 4, 1);
    memcpy(answer + LPA_DNS_HEADER, query + LPA_DNS_HEADER, name_length + 4);
    *has_question = 1;
    *rcode = LPA_DNS_NXDOMAIN;
    return size;
}

// ---- The server ----

struct tcp_client {
    int fd;                 // -1: free slot
    int64_t deadline_ms;    // the current query must be complete by then
    size_t have;            // bytes of the current frame (2-byte length + message)
    uint8_t frame[2 + LPA_DNS_MESSAGE_MAX];
};

struct lpa_dns_server {
    int epoll;
    int udp, tcp;
    struct lpa_dns_spec spec;
    struct tcp_client clients[LPA_DNS_TCP_MAX];
    // The listener is out of the epoll set while lpa-run has no descriptor to accept
    // with (it would stay readable and spin the loop): back when a client closes or at
    // `resume_ms`, whichever is first.
    int tcp_paused;
    int64_t resume_ms;
};

enum { LPA_DNS_ACCEPT_RETRY_MS = 100 };

// epoll data: 0 the UDP socket, 1 the listener, 2 + i client i.
enum { EV_UDP = 0, EV_TCP = 1, EV_CLIENT = 2 };

static void count(uint64_t *counter) {
    if (counter != NULL) (*counter)++;
}

struct lpa_dns_server *lpa_dns_server_open(int udp, int tcp, const struct lpa_dns_spec *spec) {
    struct lpa_dns_server *s = calloc(1, sizeof *s);
    int ep = s == NULL ? -1 : epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        int err = s == NULL ? ENOMEM : errno;
        free(s);
        close(udp);
        close(tcp);
        errno = err;
        return NULL;
    }
    s->epoll = ep;
    // The init made them blocking: an accept or a read here must never wait.
    for (int i = 0; i < 2; i++) {
        int fd = i == 0 ? udp : tcp;
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    s->udp = udp;
    s->tcp = tcp;
    s->spec = *spec;
    for (size_t i = 0; i < LPA_DNS_TCP_MAX; i++) s->clients[i].fd = -1;
    struct epoll_event u = {.events = EPOLLIN, .data.u64 = EV_UDP};
    struct epoll_event t = {.events = EPOLLIN, .data.u64 = EV_TCP};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, udp, &u) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tcp, &t) != 0) {
        int err = errno;
        lpa_dns_server_close(s);
        errno = err;
        return NULL;
    }
    return s;
}

int lpa_dns_server_fd(const struct lpa_dns_server *server) { return server->epoll; }

// Answers one message; returns the answer's length (0: none) and calls the sink.
static size_t handle(struct lpa_dns_server *s, const uint8_t *query, size_t length, uint8_t *answer,
                     struct lpa_dns_question *question, int *has_question) {
    int rcode;
    size_t n = lpa_dns_respond(query, length, answer, LPA_DNS_ANSWER_MAX, question, has_question, &rcode);
    if (*has_question) count(s->spec.stats ? &s->spec.stats->questions : NULL);
    else count(s->spec.stats ? &s->spec.stats->malformed : NULL);
    return n;
}

static void serve_udp(struct lpa_dns_server *s) {
    uint8_t query[LPA_DNS_MESSAGE_MAX + 1];
    uint8_t answer[LPA_DNS_ANSWER_MAX];
    for (int i = 0; i < LPA_DNS_UDP_BATCH; i++) {
        struct sockaddr_storage from;
        socklen_t from_length = sizeof from;
        ssize_t got = recvfrom(s->udp, query, sizeof query, MSG_DONTWAIT, (struct sockaddr *)&from, &from_length);
        if (got < 0) {
            if (errno == EINTR) continue;
            return;  // EAGAIN: all read
        }
        struct lpa_dns_question question;
        int has_question = 0;
        if ((size_t)got > LPA_DNS_MESSAGE_MAX) {
            count(s->spec.stats ? &s->spec.stats->malformed : NULL);
            continue;
        }
        size_t n = handle(s, query, (size_t)got, answer, &question, &has_question);
        if (n > 0 && sendto(s->udp, answer, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&from, from_length) != (ssize_t)n)
            count(s->spec.stats ? &s->spec.stats->dropped : NULL);
        // After the answer went: the workload waits for nothing lpa-run does with the name.
        if (has_question && s->spec.sink != NULL)
            s->spec.sink(question.name, question.name_length, question.type, 0, s->spec.context);
    }
}

static void resume_accepting(struct lpa_dns_server *s) {
    if (!s->tcp_paused) return;
    struct epoll_event t = {.events = EPOLLIN, .data.u64 = 1 /* EV_TCP */};
    if (epoll_ctl(s->epoll, EPOLL_CTL_ADD, s->tcp, &t) == 0) s->tcp_paused = 0;
}

static void client_close(struct lpa_dns_server *s, struct tcp_client *c) {
    if (c->fd < 0) return;
    epoll_ctl(s->epoll, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->have = 0;
    resume_accepting(s);
}

static void accept_tcp(struct lpa_dns_server *s, int64_t now) {
    for (;;) {
        int fd = accept4(s->tcp, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (epoll_ctl(s->epoll, EPOLL_CTL_DEL, s->tcp, NULL) == 0) {
                    s->tcp_paused = 1;
                    s->resume_ms = now + LPA_DNS_ACCEPT_RETRY_MS;
                }
            }
            return;
        }
        struct tcp_client *slot = NULL;
        size_t index = 0;
        for (size_t i = 0; i < LPA_DNS_TCP_MAX; i++) {
            if (s->clients[i].fd < 0) { slot = &s->clients[i]; index = i; break; }
        }
        if (slot == NULL) {
            // Over the cap: closed at once, so a flood of connections costs nothing kept.
            close(fd);
            count(s->spec.stats ? &s->spec.stats->tcp_refused : NULL);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV_CLIENT + index};
        if (epoll_ctl(s->epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            count(s->spec.stats ? &s->spec.stats->tcp_refused : NULL);
            continue;
        }
        slot->fd = fd;
        slot->have = 0;
        slot->deadline_ms = now + LPA_DNS_TCP_TIMEOUT_MS;
    }
}

// Reads what a TCP client sent (partial frames kept), answers every complete query (a
// client may send several), and closes it on end of file, error, an oversized frame
// or an answer that does not fit its socket buffer at once.
static void serve_client(struct lpa_dns_server *s, struct tcp_client *c, int64_t now) {
    for (;;) {
        size_t want = c->have < 2 ? 2 - c->have : 2 + (size_t)read16(c->frame) - c->have;
        ssize_t got = recv(c->fd, c->frame + c->have, want, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (got <= 0) {
            client_close(s, c);
            return;
        }
        c->have += (size_t)got;
        if (c->have == 2) {
            size_t size = read16(c->frame);
            if (size == 0 || size > LPA_DNS_MESSAGE_MAX) {
                count(s->spec.stats ? &s->spec.stats->malformed : NULL);
                client_close(s, c);
                return;
            }
            continue;
        }
        if (c->have < 2 || c->have < 2 + (size_t)read16(c->frame)) continue;
        uint8_t answer[2 + LPA_DNS_ANSWER_MAX];
        struct lpa_dns_question question;
        int has_question = 0;
        size_t n = handle(s, c->frame + 2, c->have - 2, answer + 2, &question, &has_question);
        c->have = 0;
        c->deadline_ms = now + LPA_DNS_TCP_TIMEOUT_MS;
        int keep = 1;
        if (n > 0) {
            write16(answer, (uint16_t)n);
            if (send(c->fd, answer, n + 2, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(n + 2)) {
                count(s->spec.stats ? &s->spec.stats->dropped : NULL);
                keep = 0;
            }
        } else {
            keep = 0;  // nothing to say to a response or a runt: the connection ends
        }
        if (has_question && s->spec.sink != NULL)
            s->spec.sink(question.name, question.name_length, question.type, 1, s->spec.context);
        if (!keep) {
            client_close(s, c);
            return;
        }
    }
}

void lpa_dns_server_serve(struct lpa_dns_server *s, int64_t now) {
    struct epoll_event events[LPA_DNS_TCP_MAX + 2];
    int n = epoll_wait(s->epoll, events, (int)(sizeof events / sizeof events[0]), 0);
    for (int i = 0; i < n; i++) {
        uint64_t which = events[i].data.u64;
        if (which == EV_UDP) serve_udp(s);
        else if (which == EV_TCP) accept_tcp(s, now);
        else if (which - EV_CLIENT < LPA_DNS_TCP_MAX) {
            struct tcp_client *c = &s->clients[which - EV_CLIENT];
            if (c->fd >= 0) serve_client(s, c, now);
        }
    }
}

int64_t lpa_dns_server_expire(struct lpa_dns_server *s, int64_t now) {
    int64_t next = -1;
    if (s->tcp_paused) {
        if (now >= s->resume_ms) resume_accepting(s);
        if (s->tcp_paused) {
            s->resume_ms = now >= s->resume_ms ? now + LPA_DNS_ACCEPT_RETRY_MS : s->resume_ms;
            next = s->resume_ms;
        }
    }
    for (size_t i = 0; i < LPA_DNS_TCP_MAX; i++) {
        struct tcp_client *c = &s->clients[i];
        if (c->fd < 0) continue;
        if (now >= c->deadline_ms) {
            count(s->spec.stats ? &s->spec.stats->tcp_timed_out : NULL);
            client_close(s, c);
            continue;
        }
        if (next < 0 || c->deadline_ms < next) next = c->deadline_ms;
    }
    return next;
}

void lpa_dns_server_close(struct lpa_dns_server *s) {
    if (s == NULL) return;
    for (size_t i = 0; i < LPA_DNS_TCP_MAX; i++) client_close(s, &s->clients[i]);
    close(s->udp);
    close(s->tcp);
    close(s->epoll);
    free(s);
}
