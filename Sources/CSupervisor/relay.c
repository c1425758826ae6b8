// The launcher side of published ports and host endpoints: one epoll loop on the
// launcher's main thread that accepts connections, asks the init for a socket
// connected inside the sandbox (or connects to the host endpoint), and moves bytes
// both ways, honouring half-close and backpressure: small messages with recv/send
// through a buffer (fewest syscalls per request), bulk with splice(2) through a pipe
// per direction (zero-copy). It returns when the init exits.
//
// Host endpoints may be unix sockets (--connect unix:…): the init listens at a path on
// a tmpfs inside, and the launcher connects to the host socket it pinned at start.
// Published unix sockets (-p unix:…) are ordinary host listeners here; NetworkSetup
// made them.
//
// Published ports: the init hands out unconnected sockets made in the sandbox's
// network namespace, in batches (a pool); the launcher connects one to
// 127.0.0.1:PORT inside when a client arrives, so no round trip to the init sits on
// the connection's path.
//
// Nothing here may block: every socket is non-blocking, connects included (a host
// endpoint that never answers is given up after CONNECT_TIMEOUT_MS), each listener
// serves at most spec->connections_max connections at once (the profile's
// `network: max-connections`), a connection that moves no byte in either direction for
// spec->idle_timeout_ms is closed (`idle-timeout`), and when descriptors or memory run
// out a listener is paused instead of spinning. The audit supervisor runs on
// a thread of its own (audit.c lpa_audit_run), so relay work never delays an answer to
// a notified syscall.
//
// This file runs in the ordinary launcher process, not in the post-clone window
// (it allocates a little per connection); it is C because the loop is plain
// epoll/splice code and its speed is benchmarked. The init's half of the control
// protocol (lpa_control.h) is in CWindow's window.c.
#define _GNU_SOURCE
#include "lpa_relay.h"
#include "lpa_control.h"
#include "lpa_fdpass.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum tag_kind { TAG_PUBLISH, TAG_CONNECT, TAG_CONTROL, TAG_INIT, TAG_SIDE, TAG_DNS, TAG_AUDIT };

struct conn;

struct tag {
    enum tag_kind kind;
    size_t index;          // listener index
    struct conn *conn;     // for TAG_SIDE
};

// One direction of a connection: src -> pipe -> dst.
struct direction {
    int src, dst;
    int pipe[2];
    size_t buffered;
    uint64_t moved;
    int eof;               // src said EOF
    int shut;              // we shut dst for writing
    int bulk;              // the last read filled COPY_MAX: splice through the pipe
};

struct conn {
    int fd[2];             // 0: client side (accepted), 1: the other end
    struct direction dir[2];
    struct tag tags[2];
    int closed;
    struct conn *next_closed;
    size_t *open_count;    // the listener's count of open connections
    int connecting;        // fd[1]'s connect has not completed yet
    int64_t deadline_ms;   // when a connect still in progress is given up
    int in_connecting_list;
    struct conn *next_connecting;
    // The idle list: every open connection, least recently active first, so the sweep
    // looks only at the head (O(1) per byte moved, O(expired) per sweep, no allocation).
    int64_t active_ms;     // when a byte last moved either way (or when it opened)
    struct conn *idle_prev, *idle_next;
};

struct pending {
    int client;
    uint16_t port;
    size_t *open_count;
    struct pending *next;
};

enum { POOL_MAX = 256, POOL_LOW = 16 };

// Each relayed connection holds two sockets and two pipes of up to 1 MiB: at most
// spec->connections_max (default LPA_RELAY_CONNECTIONS_DEFAULT, lpa_relay.h) at once per
// published port and per host endpoint. A client beyond it is accepted and closed at
// once (counted as refused), so a flood from either side costs bounded memory and
// descriptors. Slots held by clients that went silent (vanished without a FIN, half-open,
// a slowloris that stopped) come back after spec->idle_timeout_ms.
// A connect (to a host endpoint, or inside the sandbox for a published port) that has
// not completed in this time is given up: the client sees its connection close. A
// listener whose accept queue is full drops SYNs, and the kernel would retry for minutes.
enum { CONNECT_TIMEOUT_MS = 10000 };
// Out of descriptors or memory: a listener stops being watched for this long, or until
// a connection closes, instead of waking the level-triggered loop for ever.
enum { ACCEPT_PAUSE_MS = 250 };

// Growing a pipe to 1 MiB allocates its pages: keep empty pipes for reuse instead of
// paying that on every new connection.
enum { PIPE_SPARE_MAX = 128 };
// ...but only while connections are open: beyond this many plus one per open
// connection, a closing connection's pipes are closed, so after a burst lpa-run's
// descriptor count returns to what it was before.
enum { PIPE_SPARE_IDLE = 4 };

static const size_t CHUNK = 1 << 20;
// Small messages (requests and responses, the keep-alive case) are copied through a
// buffer on the stack: recv + send, two syscalls a direction, where splicing takes three
// (into the pipe, out of it, and the read that finds the socket empty). A read that
// fills the buffer switches the direction to splice (zero-copy, for bulk) until a splice
// brings less than this again.
enum { COPY_MAX = 16384 };

// Loopback carries no loss and no queue to probe, so congestion control has nothing to
// do there; but a host whose default is a pacing algorithm (bbr) still paces every relayed
// byte, and measured here that cost bulk transfers through the relay about 30% of their
// throughput (docs/BENCHMARKS.md, "Relay, second pass"). So the relay's own loopback
// sockets use reno, which is built in and normally open to unprivileged callers
// (TCP_CONG_NON_RESTRICTED; a refusal is ignored: the host's choice stays). Sockets that
// may face a real network (a port published on a wildcard or LAN address, a host
// endpoint elsewhere) keep the host's choice. The algorithm must be chosen before the
// connection exists: a listener passes it on to the sockets it accepts, and a socket
// that connects gets it first. A socket that is switched once established keeps the
// pacing bbr turned on (nothing turns it off), now at reno's much higher rate: that is
// all a loopback client of a wildcard listener gets (~0.75x a loopback listener's bulk).
static void loopback_congestion(int fd) {
    static const char reno[] = "reno";
    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, reno, sizeof reno - 1);
}

// Whether an address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104).
static int is_loopback(const struct sockaddr *a) {
    if (a->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->sa_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(v6) || (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
    }
    return 0;
}

// A listener bound to a loopback address: its sockets get reno (see above); returns 1.
static int loopback_listener(int fd) {
    struct sockaddr_storage bound;
    socklen_t length = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &length) != 0 || length > sizeof bound ||
        !is_loopback((struct sockaddr *)&bound))
        return 0;
    loopback_congestion(fd);
    return 1;
}

static void set_nonblock(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Errors that say "not now": the process or system is out of descriptors or memory.
static int out_of_resources(int err) {
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

struct relay {
    const struct lpa_relay_spec *spec;
    int epoll;
    int control;
    int connect_listeners[LPA_CONNECT_LISTENERS_MAX];
    size_t connect_count;
    struct tag publish_tags[LPA_RELAY_PUBLISH_MAX];
    struct tag connect_tags[LPA_CONNECT_LISTENERS_MAX];
    size_t publish_open[LPA_RELAY_PUBLISH_MAX];      // open (and pending) connections per listener
    size_t connect_open[LPA_CONNECT_LISTENERS_MAX];
    int publish_paused[LPA_RELAY_PUBLISH_MAX];       // removed from epoll (out of descriptors)
    int publish_loopback[LPA_RELAY_PUBLISH_MAX];     // bound to a loopback address (reno set on it)
    int connect_paused[LPA_CONNECT_LISTENERS_MAX];
    int any_paused;
    int64_t resume_at_ms;
    int resume_now;                                  // a connection closed: try again
    struct conn *connecting;                         // connects in progress, with deadlines
    struct tag control_tag, init_tag;
    struct pending *pending_head, *pending_tail;
    int pool[POOL_MAX];     // unconnected sockets of the sandbox's network namespace
    size_t pool_count;
    size_t requested;       // sockets asked of the init and not yet received
    struct conn *closed;
    struct conn *idle_head, *idle_tail;             // the idle list (struct conn)
    size_t connections_max;                          // per listener
    int64_t idle_timeout_ms;                         // 0: never
    int64_t now;                                     // the loop's clock, read once per wakeup
    int spare_pipes[PIPE_SPARE_MAX][2];  // empty pipes kept for the next connection
    size_t spare_count;
    struct lpa_dns_server *dns;          // the DNS sink (dns.c), or NULL
    struct tag dns_tag;
};

// Stops watching a listener that cannot accept for lack of descriptors or memory.
static void pause_listener(struct relay *r, enum tag_kind kind, size_t index) {
    int *paused = kind == TAG_PUBLISH ? &r->publish_paused[index] : &r->connect_paused[index];
    int fd = kind == TAG_PUBLISH ? r->spec->publish_fds[index] : r->connect_listeners[index];
    if (*paused) return;
    epoll_ctl(r->epoll, EPOLL_CTL_DEL, fd, NULL);
    *paused = 1;
    r->any_paused = 1;
    r->resume_at_ms = now_ms() + ACCEPT_PAUSE_MS;
}

static void resume_listeners(struct relay *r) {
    for (size_t i = 0; i < r->spec->publish_count; i++) {
        if (!r->publish_paused[i]) continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &r->publish_tags[i]};
        epoll_ctl(r->epoll, EPOLL_CTL_ADD, r->spec->publish_fds[i], &ev);
        r->publish_paused[i] = 0;
    }
    for (size_t i = 0; i < r->connect_count; i++) {
        if (!r->connect_paused[i]) continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &r->connect_tags[i]};
        epoll_ctl(r->epoll, EPOLL_CTL_ADD, r->connect_listeners[i], &ev);
        r->connect_paused[i] = 0;
    }
    r->any_paused = 0;
    r->resume_now = 0;
}

// A client we accepted but will not relay: closed at once, so it does not hang.
static void refuse_client(struct relay *r, int client, size_t *open_count) {
    r->spec->stats->connections_refused++;
    close(client);
    if (open_count != NULL && *open_count > 0) (*open_count)--;
}

static void idle_unlink(struct relay *r, struct conn *c) {
    if (c->idle_prev != NULL) c->idle_prev->idle_next = c->idle_next; else if (r->idle_head == c) r->idle_head = c->idle_next;
    if (c->idle_next != NULL) c->idle_next->idle_prev = c->idle_prev; else if (r->idle_tail == c) r->idle_tail = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
}

// A byte moved (or the connection opened): it goes to the tail, the most recent end.
static void idle_touch(struct relay *r, struct conn *c) {
    c->active_ms = r->now;
    if (r->idle_tail == c) return;
    idle_unlink(r, c);
    c->idle_prev = r->idle_tail;
    if (r->idle_tail != NULL) r->idle_tail->idle_next = c; else r->idle_head = c;
    r->idle_tail = c;
}

static void conn_close(struct relay *r, struct conn *c) {
    if (c->closed) return;
    c->closed = 1;
    idle_unlink(r, c);
    if (c->in_connecting_list) {
        for (struct conn **p = &r->connecting; *p != NULL; p = &(*p)->next_connecting) {
            if (*p == c) { *p = c->next_connecting; break; }
        }
        c->in_connecting_list = 0;
    }
    if (c->open_count != NULL && *c->open_count > 0) (*c->open_count)--;
    r->resume_now = 1;
    for (int i = 0; i < 2; i++) {
        epoll_ctl(r->epoll, EPOLL_CTL_DEL, c->fd[i], NULL);
        close(c->fd[i]);
        int64_t keep = PIPE_SPARE_IDLE + 2 * (r->spec->stats->open_connections - 1);
        if (c->dir[i].buffered == 0 && r->spare_count < PIPE_SPARE_MAX && (int64_t)r->spare_count < keep) {
            r->spare_pipes[r->spare_count][0] = c->dir[i].pipe[0];
            r->spare_pipes[r->spare_count][1] = c->dir[i].pipe[1];
            r->spare_count++;
        } else {
            close(c->dir[i].pipe[0]);
            close(c->dir[i].pipe[1]);
        }
    }
    r->spec->stats->open_connections--;
    // Spares kept while a burst lasted go as it ends (two pairs per open connection).
    while ((int64_t)r->spare_count > PIPE_SPARE_IDLE + 2 * r->spec->stats->open_connections) {
        r->spare_count--;
        close(r->spare_pipes[r->spare_count][0]);
        close(r->spare_pipes[r->spare_count][1]);
    }
    // Freed after the current batch of events, which may still name it.
    c->next_closed = r->closed;
    r->closed = c;
}

// Moves what can be moved in one direction; returns -1 when the connection must close.
// Sets *progress when a byte moved (into the pipe or out of it). `drain`: read src until
// it says EAGAIN (or EOF); otherwise a short read is taken as "src is empty": the sockets
// are registered edge-triggered, so a byte or a FIN arriving after the wakeup was
// reported wakes the loop again, and a FIN that arrived before came with EPOLLRDHUP,
// which asks for a drain.
static int pump(struct direction *d, int *progress, int drain) {
    for (;;) {
        if (d->buffered > 0) {
            ssize_t n = splice(d->pipe[0], NULL, d->dst, NULL, d->buffered, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0) {
                if (errno == EINTR) continue;
                return (errno == EAGAIN) ? 0 : -1;
            }
            if (n > 0) *progress = 1;
            d->buffered -= (size_t)n;
            continue;
        }
        if (d->eof) {
            if (!d->shut) {
                shutdown(d->dst, SHUT_WR);  // half-close travels on
                d->shut = 1;
            }
            return 0;
        }
        if (!d->bulk) {
            char buffer[COPY_MAX];
            ssize_t n = recv(d->src, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n == 0) { d->eof = 1; continue; }
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) return 0;
                return -1;
            }
            d->moved += (size_t)n;
            *progress = 1;
            if (n == (ssize_t)sizeof buffer) d->bulk = 1;
            ssize_t sent;
            do sent = send(d->dst, buffer, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL); while (sent < 0 && errno == EINTR);
            if (sent < 0) {
                if (errno != EAGAIN) return -1;
                sent = 0;
            }
            if (sent < n) {
                // dst is full (or still connecting): the rest waits in the (empty) pipe, in
                // order, and goes out when dst is writable, as spliced bytes do.
                ssize_t kept;
                do kept = write(d->pipe[1], buffer + sent, (size_t)(n - sent)); while (kept < 0 && errno == EINTR);
                if (kept != n - sent) return -1;
                d->buffered = (size_t)kept;
                continue;
            }
            if (n < (ssize_t)sizeof buffer && !drain) return 0;
            continue;
        }
        ssize_t n = splice(d->src, NULL, d->pipe[1], NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0) { d->eof = 1; continue; }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 0;
            return -1;
        }
        if (n < COPY_MAX) d->bulk = 0;
        d->buffered += (size_t)n;
        d->moved += (size_t)n;
        *progress = 1;
    }
}

enum { READABLE = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR, WRITABLE = EPOLLOUT | EPOLLHUP | EPOLLERR };

// `side` woke with `events` (side -1: pump both directions fully, as on open). Only the
// directions the event concerns are pumped: the one reading from `side` when it is
// readable, the one writing to it when it is writable and bytes wait in the pipe (the
// reader stopped because the pipe was full, and finishes the job once it drains).
static void conn_pump(struct relay *r, struct conn *c, int side, uint32_t events) {
    if (c->closed) return;
    if (c->connecting) {
        struct sockaddr_storage peer;
        socklen_t length = sizeof peer;
        if (getpeername(c->fd[1], (struct sockaddr *)&peer, &length) == 0) c->connecting = 0;
    }
    int progress = 0;
    for (int i = 0; i < 2; i++) {
        int wanted = side < 0 || (i == side && (events & READABLE)) ||
                     (i != side && (events & WRITABLE) && (c->dir[i].buffered > 0 || c->dir[i].eof));
        if (!wanted) continue;
        // Pumped for the writable side, a reader stopped by a full pipe may have a FIN
        // behind the bytes it left, whose EPOLLRDHUP was reported then: drain it.
        int drain = i != side || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
        if (pump(&c->dir[i], &progress, drain) != 0) {
            // Nothing ever came back: the other end refused (nothing listens inside yet).
            if (c->dir[1].moved == 0) r->spec->stats->connections_refused++;
            conn_close(r, c);
            return;
        }
    }
    if (c->dir[0].shut && c->dir[1].shut) conn_close(r, c);
    else if (progress) idle_touch(r, c);
}

// Starts relaying between an accepted client and `other` (whose connect may still be
// in progress). On failure both are closed, the client counted refused, and -1
// returned with errno (out_of_resources tells the caller to pause its listener).
static int conn_open(struct relay *r, int client, int other, size_t *open_count, int connecting) {
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(other);
        refuse_client(r, client, open_count);
        errno = ENOMEM;
        return -1;
    }
    c->fd[0] = client;
    c->fd[1] = other;
    for (int i = 0; i < 2; i++) {
        if (r->spare_count > 0) {
            r->spare_count--;
            c->dir[i].pipe[0] = r->spare_pipes[r->spare_count][0];
            c->dir[i].pipe[1] = r->spare_pipes[r->spare_count][1];
            continue;
        }
        if (pipe2(c->dir[i].pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
            int err = errno;
            if (i == 1) { close(c->dir[0].pipe[0]); close(c->dir[0].pipe[1]); }
            close(other);
            free(c);
            refuse_client(r, client, open_count);
            errno = err;
            return -1;
        }
        fcntl(c->dir[i].pipe[0], F_SETPIPE_SZ, (int)CHUNK);
    }
    c->open_count = open_count;
    if (connecting) {
        c->connecting = 1;
        c->deadline_ms = now_ms() + CONNECT_TIMEOUT_MS;
        c->in_connecting_list = 1;
        c->next_connecting = r->connecting;
        r->connecting = c;
    }
    c->dir[0].src = client; c->dir[0].dst = other;
    c->dir[1].src = other;  c->dir[1].dst = client;
    // Both are non-blocking already (accept4 SOCK_NONBLOCK, connect_inside, the host
    // socket). Small writes go out at once: the relay sends each message in one piece,
    // and Nagle would hold a second piece (the rest of a partial send) for an ACK.
    // Fails harmlessly on unix sockets.
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(other, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    r->spec->stats->connections_served++;
    r->spec->stats->open_connections++;
    idle_touch(r, c);
    for (int i = 0; i < 2; i++) {
        c->tags[i].kind = TAG_SIDE;
        c->tags[i].conn = c;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &c->tags[i]};
        epoll_ctl(r->epoll, EPOLL_CTL_ADD, c->fd[i], &ev);
    }
    conn_pump(r, c, -1, 0);
    return 0;
}

// Gives up connects past their deadline; returns the next deadline (or -1: none).
static int64_t expire_connects(struct relay *r, int64_t now) {
    int64_t next = -1;
    struct conn **p = &r->connecting;
    while (*p != NULL) {
        struct conn *c = *p;
        if (!c->connecting || now >= c->deadline_ms) {
            *p = c->next_connecting;
            c->in_connecting_list = 0;
            if (c->connecting) {
                r->spec->stats->connections_refused++;
                conn_close(r, c);
            }
            continue;
        }
        if (next < 0 || c->deadline_ms < next) next = c->deadline_ms;
        p = &c->next_connecting;
    }
    return next;
}

// Closes connections that moved no byte for idle_timeout_ms: they sit at the head of
// the idle list. Returns the next such deadline (or -1: none).
static int64_t expire_idle(struct relay *r, int64_t now) {
    if (r->idle_timeout_ms <= 0) return -1;
    while (r->idle_head != NULL && now - r->idle_head->active_ms >= r->idle_timeout_ms) {
        r->spec->stats->connections_idle_closed++;
        conn_close(r, r->idle_head);  // unlinks it
    }
    return r->idle_head == NULL ? -1 : r->idle_head->active_ms + r->idle_timeout_ms;
}

static void request_sockets(struct relay *r) {
    if (r->control < 0 || r->pool_count + r->requested >= POOL_LOW) return;
    struct lpa_socket_request req = {LPA_SOCKET_BATCH_MAX};
    ssize_t n;
    do n = send(r->control, &req, sizeof req, MSG_NOSIGNAL | MSG_DONTWAIT); while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof req) r->requested += LPA_SOCKET_BATCH_MAX;
}

// A non-blocking connect; returns 0 when done, 1 when in progress, -1 on refusal.
static int start_connect(int fd, const struct sockaddr *address, socklen_t length) {
    if (connect(fd, address, length) == 0) return 0;
    return (errno == EINPROGRESS || errno == EINTR || errno == EALREADY) ? 1 : -1;
}

// Connects a pooled sandbox socket to 127.0.0.1:port inside and starts relaying. The
// connect is non-blocking: until it completes the pump sees EAGAIN; a refusal ends
// the connection, and the client sees it closed at once.
static int connect_inside(struct relay *r, int client, uint16_t port, size_t *open_count) {
    int upstream = r->pool[--r->pool_count];
    set_nonblock(upstream);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int state = start_connect(upstream, (struct sockaddr *)&a, sizeof a);
    if (state < 0) {
        close(upstream);
        refuse_client(r, client, open_count);
        return 0;
    }
    return conn_open(r, client, upstream, open_count, state == 1);
}

static void serve_pending(struct relay *r) {
    while (r->pending_head != NULL && r->pool_count > 0) {
        struct pending *p = r->pending_head;
        r->pending_head = p->next;
        if (r->pending_head == NULL) r->pending_tail = NULL;
        connect_inside(r, p->client, p->port, p->open_count);
        free(p);
    }
    request_sockets(r);
}

static void accept_published(struct relay *r, size_t index) {
    size_t *open_count = &r->publish_open[index];
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_length = sizeof peer;
        int client = accept4(r->spec->publish_fds[index], (struct sockaddr *)&peer, &peer_length,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) {
            // EAGAIN: all taken. Out of descriptors: the level-triggered listener would
            // wake us again at once, for ever; pause it.
            if (out_of_resources(errno)) pause_listener(r, TAG_PUBLISH, index);
            break;
        }
        if (*open_count >= r->connections_max) {
            refuse_client(r, client, NULL);
            continue;
        }
        (*open_count)++;
        // A loopback listener gave its sockets reno already (lpa_relay_run); a wildcard
        // one serves loopback clients too, switched now (see loopback_congestion: late,
        // so only part of the gain).
        if (!r->publish_loopback[index] && peer_length <= sizeof peer && is_loopback((struct sockaddr *)&peer))
            loopback_congestion(client);
        uint16_t port = r->spec->publish_sandbox_ports[index];
        if (r->pool_count > 0 && r->pending_head == NULL) {
            if (connect_inside(r, client, port, open_count) != 0 && out_of_resources(errno)) {
                pause_listener(r, TAG_PUBLISH, index);
                break;
            }
            continue;
        }
        struct pending *p = calloc(1, sizeof *p);
        if (p == NULL) {
            refuse_client(r, client, open_count);
            pause_listener(r, TAG_PUBLISH, index);
            break;
        }
        p->client = client;
        p->port = port;
        p->open_count = open_count;
        if (r->pending_tail) r->pending_tail->next = p; else r->pending_head = p;
        r->pending_tail = p;
    }
    request_sockets(r);
}

static void answer_from_init(struct relay *r) {
    for (;;) {
        struct lpa_socket_reply reply;
        int fds[LPA_SOCKET_BATCH_MAX];
        size_t count = 0;
        int n = lpa_fdpass_recv(r->control, MSG_DONTWAIT, &reply, sizeof reply, fds, LPA_SOCKET_BATCH_MAX, &count);
        if (n < 0) break;
        r->requested = r->requested >= LPA_SOCKET_BATCH_MAX ? r->requested - LPA_SOCKET_BATCH_MAX : 0;
        for (size_t i = 0; i < count; i++) {
            if (r->pool_count < POOL_MAX) {
                // They connect to 127.0.0.1 inside: set before the connect, here (while
                // the pool lasts, off the client's path).
                loopback_congestion(fds[i]);
                r->pool[r->pool_count++] = fds[i];
            } else {
                close(fds[i]);
            }
        }
        if (count == 0 && r->pool_count == 0) {
            // The init could not make sockets: refuse what waits rather than hang it.
            while (r->pending_head != NULL) {
                struct pending *p = r->pending_head;
                r->pending_head = p->next;
                refuse_client(r, p->client, p->open_count);
                free(p);
            }
            r->pending_tail = NULL;
        }
    }
    serve_pending(r);
}

// The length of a host endpoint's address. A unix one names the host socket through
// the O_PATH descriptor lpa-run opened at start ("/proc/self/fd/N", NetworkSetup): the
// socket is pinned, and nothing the sandbox writes can send the connect elsewhere.
static socklen_t target_length(const struct sockaddr_storage *target) {
    if (target->ss_family == AF_UNIX) {
        const struct sockaddr_un *u = (const struct sockaddr_un *)target;
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strnlen(u->sun_path, sizeof u->sun_path - 1) + 1);
    }
    return target->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

// A connection from inside to a host endpoint: the connect to the host is non-blocking
// (a busy or silent endpoint must not freeze the loop) and given up after
// CONNECT_TIMEOUT_MS.
static void accept_endpoint(struct relay *r, size_t index) {
    size_t *open_count = &r->connect_open[index];
    for (;;) {
        int inside = accept4(r->connect_listeners[index], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (inside < 0) {
            if (out_of_resources(errno)) pause_listener(r, TAG_CONNECT, index);
            return;
        }
        if (*open_count >= r->connections_max) {
            refuse_client(r, inside, NULL);
            continue;
        }
        (*open_count)++;
        const struct sockaddr_storage *target = &r->spec->connect_targets[index];
        socklen_t len = target_length(target);
        int host = socket(target->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (host < 0) {
            int err = errno;
            refuse_client(r, inside, open_count);
            if (out_of_resources(err)) {
                pause_listener(r, TAG_CONNECT, index);
                return;
            }
            continue;
        }
        if (is_loopback((const struct sockaddr *)target)) loopback_congestion(host);
        int state = start_connect(host, (const struct sockaddr *)target, len);
        if (state < 0) {
            close(host);
            refuse_client(r, inside, open_count);
            continue;
        }
        if (conn_open(r, inside, host, open_count, state == 1) != 0 && out_of_resources(errno)) {
            pause_listener(r, TAG_CONNECT, index);
            return;
        }
    }
}

static int add(struct relay *r, int fd, struct tag *tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(r->epoll, EPOLL_CTL_ADD, fd, &ev);
}

struct audit_thread {
    struct lpa_audit_spec *audit;
    int init_pidfd;
    int stop_fd;
};

static void *audit_main(void *arg) {
    struct audit_thread *t = arg;
    lpa_audit_run(t->audit, t->init_pidfd, t->stop_fd);
    return NULL;
}

// The DNS sink's sockets, which the init sends after the connect listeners (lpa_control.h,
// message 4), served by dns.c through an epoll descriptor of its own watched here.
static int open_dns(struct relay *r) {
    struct lpa_dns_sockets message = {0};
    int fds[2] = {-1, -1};
    size_t count = 0;
    if (lpa_fdpass_recv(r->control, 0, &message, sizeof message, fds, 2, &count) < 0 ||
        message.tag != LPA_DNS_SOCKETS_TAG || count != 2) {
        for (size_t i = 0; i < count; i++) close(fds[i]);
        errno = EPROTO;
        return -1;
    }
    r->dns = lpa_dns_server_open(fds[0], fds[1], r->spec->dns);
    if (r->dns == NULL) return -1;
    r->dns_tag.kind = TAG_DNS;
    return add(r, lpa_dns_server_fd(r->dns), &r->dns_tag);
}

// The loop proper; returns 0 when the init exited, -1 with errno on failure.
static int relay_loop(struct relay *r) {
    struct epoll_event events[128];
    for (;;) {
        int64_t now = now_ms();
        r->now = now;
        int64_t next = expire_connects(r, now);
        int64_t idle_next = expire_idle(r, now);
        if (idle_next >= 0 && (next < 0 || idle_next < next)) next = idle_next;
        if (r->any_paused && (r->resume_now || now >= r->resume_at_ms)) resume_listeners(r);
        if (r->any_paused && (next < 0 || r->resume_at_ms < next)) next = r->resume_at_ms;
        int64_t dns_next = r->dns != NULL ? lpa_dns_server_expire(r->dns, now) : -1;
        if (dns_next >= 0 && (next < 0 || dns_next < next)) next = dns_next;
        // At most an hour at a time: a deadline days away (a long idle-timeout) must
        // not overflow epoll_wait's int.
        int64_t wait = next < 0 ? -1 : (next > now ? next - now : 0);
        int timeout = wait < 0 ? -1 : (int)(wait > 3600000 ? 3600000 : wait);
        // Connections closed by the expiry above are freed before waiting.
        while (r->closed) {
            struct conn *c = r->closed;
            r->closed = c->next_closed;
            free(c);
        }
        int n = epoll_wait(r->epoll, events, 128, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        r->now = now_ms();
        int init_exited = 0;
        for (int i = 0; i < n; i++) {
            struct tag *t = events[i].data.ptr;
            switch (t->kind) {
            case TAG_PUBLISH: accept_published(r, t->index); break;
            case TAG_CONNECT: accept_endpoint(r, t->index); break;
            case TAG_CONTROL:
                answer_from_init(r);
                // The init closed its end (it is exiting): level-triggered, a hung-up
                // socket would wake every epoll_wait until its pidfd says it is gone.
                if (events[i].events & (EPOLLHUP | EPOLLERR)) {
                    epoll_ctl(r->epoll, EPOLL_CTL_DEL, r->control, NULL);
                    r->control = -1;
                }
                break;
            case TAG_INIT: init_exited = 1; break;
            case TAG_SIDE: conn_pump(r, t->conn, (int)(t - t->conn->tags), events[i].events); break;
            case TAG_DNS: lpa_dns_server_serve(r->dns, r->now); break;
            case TAG_AUDIT:
                // Without relays the notifications are answered here (see lpa_relay_run).
                // POLLHUP/POLLERR: every task using the filter is gone; a closed listener
                // would wake every epoll_wait.
                if (!(events[i].events & EPOLLIN) || lpa_audit_handle(r->spec->audit) != 0)
                    epoll_ctl(r->epoll, EPOLL_CTL_DEL, r->spec->audit->listener, NULL);
                break;
            }
        }
        while (r->closed) {
            struct conn *c = r->closed;
            r->closed = c->next_closed;
            free(c);
        }
        if (init_exited) return 0;
    }
}

int lpa_relay_run(const struct lpa_relay_spec *spec) {
    struct relay r;
    memset(&r, 0, sizeof r);
    r.spec = spec;
    r.control = spec->control_fd;
    r.connections_max = spec->connections_max == 0 ? LPA_RELAY_CONNECTIONS_DEFAULT : spec->connections_max;
    r.idle_timeout_ms = spec->idle_timeout_ms > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)spec->idle_timeout_ms;
    r.now = now_ms();
    if (spec->publish_count > LPA_RELAY_PUBLISH_MAX || spec->connect_count > LPA_CONNECT_LISTENERS_MAX) {
        errno = E2BIG;
        return -1;
    }
    r.epoll = epoll_create1(EPOLL_CLOEXEC);
    if (r.epoll < 0) return -1;

    if (spec->connect_count > 0) {
        // The init sends the sandbox-side listeners before it starts the workload.
        struct lpa_connect_listeners message = {0};
        if (lpa_fdpass_recv(r.control, 0, &message, sizeof message, r.connect_listeners,
                            LPA_CONNECT_LISTENERS_MAX, &r.connect_count) < 0 ||
            r.connect_count != spec->connect_count) {
            errno = EPROTO;
            return -1;
        }
    }
    if (spec->dns != NULL && open_dns(&r) != 0) return -1;
    for (size_t i = 0; i < spec->publish_count; i++) {
        set_nonblock(spec->publish_fds[i]);
        r.publish_loopback[i] = loopback_listener(spec->publish_fds[i]);
        r.publish_tags[i] = (struct tag){TAG_PUBLISH, i, NULL};
        if (add(&r, spec->publish_fds[i], &r.publish_tags[i]) != 0) return -1;
    }
    for (size_t i = 0; i < r.connect_count; i++) {
        set_nonblock(r.connect_listeners[i]);
        loopback_listener(r.connect_listeners[i]);
        r.connect_tags[i] = (struct tag){TAG_CONNECT, i, NULL};
        if (add(&r, r.connect_listeners[i], &r.connect_tags[i]) != 0) return -1;
    }
    if (r.control >= 0) {
        r.control_tag.kind = TAG_CONTROL;
        if (add(&r, r.control, &r.control_tag) != 0) return -1;
    }
    if (spec->publish_count > 0) request_sockets(&r);
    r.init_tag.kind = TAG_INIT;
    if (add(&r, spec->init_pidfd, &r.init_tag) != 0) return -1;

    // The audit supervisor on its own thread, with every signal blocked there (the
    // main thread forwards them), so that relay work never delays an answer. It shares
    // nothing with the relay; it stops when the init exits, or when we tell it to
    // through stop_fd. Without published ports or host endpoints there is no relay work
    // (the DNS sink answers a query in microseconds): the notifications are answered in
    // this loop, and a run does not pay for a thread (most runs, `/bin/true` included).
    pthread_t audit_thread;
    struct audit_thread audit_args = {spec->audit, spec->init_pidfd, -1};
    int audit_started = 0;
    struct tag audit_tag = {TAG_AUDIT, 0, NULL};
    int audit_inline = spec->publish_count == 0 && r.connect_count == 0;
    if (spec->audit != NULL && spec->audit->listener >= 0 && audit_inline) {
        if (add(&r, spec->audit->listener, &audit_tag) != 0) return -1;
    } else if (spec->audit != NULL && spec->audit->listener >= 0) {
        audit_args.stop_fd = eventfd(0, EFD_CLOEXEC);
        if (audit_args.stop_fd < 0) return -1;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int err = pthread_create(&audit_thread, NULL, audit_main, &audit_args);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (err != 0) {
            close(audit_args.stop_fd);
            errno = err;
            return -1;
        }
        audit_started = 1;
    }

    int rc = relay_loop(&r);
    int err = errno;
    if (audit_started) {
        uint64_t one = 1;
        ssize_t written;
        do written = write(audit_args.stop_fd, &one, sizeof one); while (written < 0 && errno == EINTR);
        pthread_join(audit_thread, NULL);
        close(audit_args.stop_fd);
    }
    // The workload ended: stop accepting; lpa-run exits right after. The published
    // listeners belong to the Swift side (NetworkSetup closes them): shut down here.
    for (size_t i = 0; i < spec->publish_count; i++) shutdown(spec->publish_fds[i], SHUT_RDWR);
    for (size_t i = 0; i < r.connect_count; i++) close(r.connect_listeners[i]);
    lpa_dns_server_close(r.dns);
    close(r.epoll);
    errno = err;
    return rc;
}
