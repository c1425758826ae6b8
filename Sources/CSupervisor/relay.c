// The launcher side of published ports and host endpoints: one epoll loop on the
// launcher's main thread that accepts connections, asks the init for a socket
// connected inside the sandbox (or connects to the host endpoint), and moves bytes
// both ways with splice(2) through a pipe per direction (zero-copy), honouring
// half-close and backpressure. It returns when the init exits.
//
// Published ports: the init hands out unconnected sockets made in the sandbox's
// network namespace, in batches (a pool); the launcher connects one to
// 127.0.0.1:PORT inside when a client arrives, so no round trip to the init sits on
// the connection's path.
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
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum tag_kind { TAG_PUBLISH, TAG_CONNECT, TAG_CONTROL, TAG_INIT, TAG_SIDE, TAG_AUDIT };

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
};

struct conn {
    int fd[2];             // 0: client side (accepted), 1: the other end
    struct direction dir[2];
    struct tag tags[2];
    int closed;
    struct conn *next_closed;
};

struct pending {
    int client;
    uint16_t port;
    struct pending *next;
};

enum { POOL_MAX = 256, POOL_LOW = 16 };

// Growing a pipe to 1 MiB allocates its pages: keep empty pipes for reuse instead of
// paying that on every new connection.
enum { PIPE_SPARE_MAX = 128 };

static const size_t CHUNK = 1 << 20;

static void set_nonblock(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

struct relay {
    const struct lpa_relay_spec *spec;
    int epoll;
    int control;
    int connect_listeners[LPA_CONNECT_LISTENERS_MAX];
    size_t connect_count;
    struct tag publish_tags[LPA_RELAY_PUBLISH_MAX];
    struct tag connect_tags[LPA_CONNECT_LISTENERS_MAX];
    struct tag control_tag, init_tag, audit_tag;
    struct pending *pending_head, *pending_tail;
    int pool[POOL_MAX];     // unconnected sockets of the sandbox's network namespace
    size_t pool_count;
    size_t requested;       // sockets asked of the init and not yet received
    struct conn *closed;
    int spare_pipes[PIPE_SPARE_MAX][2];  // empty pipes kept for the next connection
    size_t spare_count;
};

static void conn_close(struct relay *r, struct conn *c) {
    if (c->closed) return;
    c->closed = 1;
    for (int i = 0; i < 2; i++) {
        epoll_ctl(r->epoll, EPOLL_CTL_DEL, c->fd[i], NULL);
        close(c->fd[i]);
        if (c->dir[i].buffered == 0 && r->spare_count < PIPE_SPARE_MAX) {
            r->spare_pipes[r->spare_count][0] = c->dir[i].pipe[0];
            r->spare_pipes[r->spare_count][1] = c->dir[i].pipe[1];
            r->spare_count++;
        } else {
            close(c->dir[i].pipe[0]);
            close(c->dir[i].pipe[1]);
        }
    }
    r->spec->stats->open_connections--;
    // Freed after the current batch of events, which may still name it.
    c->next_closed = r->closed;
    r->closed = c;
}

// Moves what can be moved in one direction; returns -1 when the connection must close.
static int pump(struct direction *d) {
    for (;;) {
        if (d->buffered > 0) {
            ssize_t n = splice(d->pipe[0], NULL, d->dst, NULL, d->buffered, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0) {
                if (errno == EINTR) continue;
                return (errno == EAGAIN) ? 0 : -1;
            }
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
        ssize_t n = splice(d->src, NULL, d->pipe[1], NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0) { d->eof = 1; continue; }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 0;
            return -1;
        }
        d->buffered += (size_t)n;
        d->moved += (size_t)n;
    }
}

static void conn_pump(struct relay *r, struct conn *c) {
    if (c->closed) return;
    for (int i = 0; i < 2; i++) {
        if (pump(&c->dir[i]) != 0) {
            // Nothing ever came back: the other end refused (nothing listens inside yet).
            if (c->dir[1].moved == 0) r->spec->stats->connections_refused++;
            conn_close(r, c);
            return;
        }
    }
    if (c->dir[0].shut && c->dir[1].shut) conn_close(r, c);
}

static void conn_open(struct relay *r, int client, int other) {
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) { close(client); close(other); return; }
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
            if (i == 1) { close(c->dir[0].pipe[0]); close(c->dir[0].pipe[1]); }
            close(client); close(other); free(c);
            return;
        }
        fcntl(c->dir[i].pipe[0], F_SETPIPE_SZ, (int)CHUNK);
    }
    c->dir[0].src = client; c->dir[0].dst = other;
    c->dir[1].src = other;  c->dir[1].dst = client;
    set_nonblock(client);
    set_nonblock(other);
    r->spec->stats->connections_served++;
    r->spec->stats->open_connections++;
    for (int i = 0; i < 2; i++) {
        c->tags[i].kind = TAG_SIDE;
        c->tags[i].conn = c;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &c->tags[i]};
        epoll_ctl(r->epoll, EPOLL_CTL_ADD, c->fd[i], &ev);
    }
    conn_pump(r, c);
}

static void request_sockets(struct relay *r) {
    if (r->control < 0 || r->pool_count + r->requested >= POOL_LOW) return;
    struct lpa_socket_request req = {LPA_SOCKET_BATCH_MAX};
    ssize_t n;
    do n = send(r->control, &req, sizeof req, MSG_NOSIGNAL | MSG_DONTWAIT); while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof req) r->requested += LPA_SOCKET_BATCH_MAX;
}

// Connects a pooled sandbox socket to 127.0.0.1:port inside and starts relaying. The
// connect is non-blocking: until it completes the pump sees EAGAIN; a refusal ends
// the connection, and the client sees it closed at once.
static void connect_inside(struct relay *r, int client, uint16_t port) {
    int upstream = r->pool[--r->pool_count];
    set_nonblock(upstream);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc;
    do rc = connect(upstream, (struct sockaddr *)&a, sizeof a); while (rc < 0 && errno == EINTR);
    if (rc != 0 && errno != EINPROGRESS) {
        r->spec->stats->connections_refused++;
        close(upstream);
        close(client);
        return;
    }
    conn_open(r, client, upstream);
}

static void serve_pending(struct relay *r) {
    while (r->pending_head != NULL && r->pool_count > 0) {
        struct pending *p = r->pending_head;
        r->pending_head = p->next;
        if (r->pending_head == NULL) r->pending_tail = NULL;
        connect_inside(r, p->client, p->port);
        free(p);
    }
    request_sockets(r);
}

static void accept_published(struct relay *r, size_t index) {
    for (;;) {
        int client = accept4(r->spec->publish_fds[index], NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) break;  // EAGAIN, or a transient error: the next event retries
        uint16_t port = r->spec->publish_sandbox_ports[index];
        if (r->pool_count > 0 && r->pending_head == NULL) {
            connect_inside(r, client, port);
            continue;
        }
        struct pending *p = calloc(1, sizeof *p);
        if (p == NULL) { close(client); continue; }
        p->client = client;
        p->port = port;
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
            if (r->pool_count < POOL_MAX) r->pool[r->pool_count++] = fds[i];
            else close(fds[i]);
        }
        if (count == 0 && r->pool_count == 0) {
            // The init could not make sockets: refuse what waits rather than hang it.
            while (r->pending_head != NULL) {
                struct pending *p = r->pending_head;
                r->pending_head = p->next;
                r->spec->stats->connections_refused++;
                close(p->client);
                free(p);
            }
            r->pending_tail = NULL;
        }
    }
    serve_pending(r);
}

static void accept_endpoint(struct relay *r, size_t index) {
    for (;;) {
        int inside = accept4(r->connect_listeners[index], NULL, NULL, SOCK_CLOEXEC);
        if (inside < 0) return;
        const struct sockaddr_storage *target = &r->spec->connect_targets[index];
        socklen_t len = target->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        int host = socket(target->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int rc;
        do rc = host < 0 ? -1 : connect(host, (const struct sockaddr *)target, len); while (rc < 0 && errno == EINTR);
        if (rc != 0) {
            if (host >= 0) close(host);
            r->spec->stats->connections_refused++;
            close(inside);
            continue;
        }
        conn_open(r, inside, host);
    }
}

static int add(struct relay *r, int fd, struct tag *tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(r->epoll, EPOLL_CTL_ADD, fd, &ev);
}

int lpa_relay_run(const struct lpa_relay_spec *spec) {
    struct relay r;
    memset(&r, 0, sizeof r);
    r.spec = spec;
    r.control = spec->control_fd;
    r.epoll = epoll_create1(EPOLL_CLOEXEC);
    if (r.epoll < 0) return -1;
    if (spec->publish_count > LPA_RELAY_PUBLISH_MAX || spec->connect_count > LPA_CONNECT_LISTENERS_MAX) {
        errno = E2BIG;
        return -1;
    }

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
    for (size_t i = 0; i < spec->publish_count; i++) {
        set_nonblock(spec->publish_fds[i]);
        r.publish_tags[i] = (struct tag){TAG_PUBLISH, i, NULL};
        if (add(&r, spec->publish_fds[i], &r.publish_tags[i]) != 0) return -1;
    }
    for (size_t i = 0; i < r.connect_count; i++) {
        set_nonblock(r.connect_listeners[i]);
        r.connect_tags[i] = (struct tag){TAG_CONNECT, i, NULL};
        if (add(&r, r.connect_listeners[i], &r.connect_tags[i]) != 0) return -1;
    }
    if (r.control >= 0) {
        r.control_tag.kind = TAG_CONTROL;
        if (add(&r, r.control, &r.control_tag) != 0) return -1;
    }
    if (spec->publish_count > 0) request_sockets(&r);
    if (spec->audit != NULL && spec->audit->listener >= 0) {
        r.audit_tag.kind = TAG_AUDIT;
        if (add(&r, spec->audit->listener, &r.audit_tag) != 0) return -1;
    }
    r.init_tag.kind = TAG_INIT;
    if (add(&r, spec->init_pidfd, &r.init_tag) != 0) return -1;

    struct epoll_event events[128];
    for (;;) {
        int n = epoll_wait(r.epoll, events, 128, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        int init_exited = 0;
        for (int i = 0; i < n; i++) {
            struct tag *t = events[i].data.ptr;
            switch (t->kind) {
            case TAG_PUBLISH: accept_published(&r, t->index); break;
            case TAG_CONNECT: accept_endpoint(&r, t->index); break;
            case TAG_CONTROL: answer_from_init(&r); break;
            case TAG_INIT: init_exited = 1; break;
            case TAG_SIDE: conn_pump(&r, t->conn); break;
            case TAG_AUDIT:
                if (lpa_audit_handle(spec->audit) != 0) epoll_ctl(r.epoll, EPOLL_CTL_DEL, spec->audit->listener, NULL);
                break;
            }
        }
        while (r.closed) {
            struct conn *c = r.closed;
            r.closed = c->next_closed;
            free(c);
        }
        if (init_exited) {
            // The workload ended: stop accepting; lpa-run exits right after.
            for (size_t i = 0; i < spec->publish_count; i++) close(spec->publish_fds[i]);
            for (size_t i = 0; i < r.connect_count; i++) close(r.connect_listeners[i]);
            close(r.epoll);
            return 0;
        }
    }
}
