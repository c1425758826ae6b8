// The DNS sink (dns.c): a resolver inside the sandbox's network namespace, on
// 127.0.0.1:53 UDP and TCP, whose sockets the init makes and hands over (lpa_control.h,
// message 4). It answers every query at once with NXDOMAIN, never forwards, and hands
// each question (name, type) to the launcher's Swift side, which logs and counts it.
//
// NXDOMAIN rather than REFUSED, because of what stub resolvers do with each:
//   - glibc: NXDOMAIN ends the lookup (EAI_NONAME); REFUSED makes it try the next
//     nameserver, then fail with EAI_AGAIN ("temporary failure"), which clients retry.
//   - musl: NXDOMAIN ends the lookup; REFUSED is ignored like a lost packet, so every
//     lookup waits out the full timeout (5 s x attempts).
//   - Go's resolver: NXDOMAIN is "no such host" (IsNotFound); REFUSED is a server
//     misbehaving error, retried on the next server and search domain.
//   - Python: getaddrinfo (the libc's), so as above: socket.gaierror EAI_NONAME.
// A name that does not exist is exactly what the sandbox's network offers.
//
// Every byte of a query is hostile: the parser never reads past `length`, accepts no
// compression pointer (a question has no earlier name to point to), labels of at most
// 63 bytes, names of at most 255 bytes on the wire, exactly one question. The server
// holds no queue: a UDP flood is answered as fast as the loop goes or dropped by the
// kernel's receive buffer; TCP clients are capped (LPA_DNS_TCP_MAX) and given
// LPA_DNS_TCP_TIMEOUT_MS per query.
#ifndef LPA_DNS_H
#define LPA_DNS_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    LPA_DNS_HEADER = 12,
    LPA_DNS_NAME_MAX = 255,         // a name on the wire, length octets and root included
    LPA_DNS_LABEL_MAX = 63,
    LPA_DNS_MESSAGE_MAX = 1232,     // a query larger than this (the usual EDNS size) is dropped
    LPA_DNS_ANSWER_MAX = LPA_DNS_HEADER + LPA_DNS_NAME_MAX + 4,
    LPA_DNS_TCP_MAX = 32,           // TCP clients served at once; more are closed at accept
    LPA_DNS_TCP_TIMEOUT_MS = 2000,  // to send one complete query over TCP
    LPA_DNS_UDP_BATCH = 64,         // datagrams read per wake-up (the loop serves others too)
};

enum lpa_dns_rcode {
    LPA_DNS_NOERROR = 0,
    LPA_DNS_FORMERR = 1,
    LPA_DNS_NXDOMAIN = 3,
    LPA_DNS_NOTIMP = 4,
};

// The question of a query, when it had one that parsed.
struct lpa_dns_question {
    uint8_t name[LPA_DNS_NAME_MAX]; // wire form: length-prefixed labels, ending with 0
    size_t name_length;
    uint16_t type;
    uint16_t qclass;
};

// Parses one query (`length` bytes) and writes its answer into `answer` (at least
// LPA_DNS_ANSWER_MAX bytes). Returns the answer's length, or 0 when nothing is to be
// sent: shorter than a header, or a response (QR set: answering it could start a loop).
// *rcode is what was answered; `question` is filled and *has_question set only for a
// well-formed question (then the answer is NXDOMAIN).
size_t lpa_dns_respond(const uint8_t *query, size_t length, uint8_t *answer, size_t capacity,
                       struct lpa_dns_question *question, int *has_question, int *rcode);

// Called for every well-formed question, after it was answered (or the answer dropped),
// on the thread that runs the relay loop. `name` is valid only during the call.
typedef void (*lpa_dns_sink)(const uint8_t *name, size_t name_length, uint16_t type, int tcp, void *context);

struct lpa_dns_stats {
    uint64_t questions;     // well-formed questions (each went to the sink)
    uint64_t malformed;     // answered FORMERR/NOTIMP, or not answered at all
    uint64_t dropped;       // answers that could not be sent (a full socket buffer)
    uint64_t tcp_refused;   // TCP clients over LPA_DNS_TCP_MAX, closed at once
    uint64_t tcp_timed_out; // TCP clients that did not finish a query in time
};

struct lpa_dns_spec {
    lpa_dns_sink sink;
    void *context;
    struct lpa_dns_stats *stats;
};

struct lpa_dns_server;

// Takes the sockets the init made (a bound UDP socket, a listening TCP socket; both
// closed by lpa_dns_server_close, or here on failure). Returns NULL with errno.
struct lpa_dns_server *lpa_dns_server_open(int udp, int tcp, const struct lpa_dns_spec *spec);
// An epoll descriptor, readable when the server has work: watch it, then call serve.
int lpa_dns_server_fd(const struct lpa_dns_server *server);
void lpa_dns_server_serve(struct lpa_dns_server *server, int64_t now_ms);
// Closes TCP clients past their deadline and takes the listener back after a pause
// (no descriptor to accept with); returns the next deadline, or -1 for none.
int64_t lpa_dns_server_expire(struct lpa_dns_server *server, int64_t now_ms);
void lpa_dns_server_close(struct lpa_dns_server *server);

#ifdef __cplusplus
}
#endif
#endif
