/* netbench: a tiny HTTP/1.1 server and client for lpa-run's relay benchmark.
 *   netbench server PORT            serve on 127.0.0.1:PORT, one connection at a time
 *       GET /small      -> 13-byte body
 *       GET /bulk/N     -> N bytes (zeros) in 1 MiB writes
 *     honours "Connection: close" / keep-alive (HTTP/1.1 default keep-alive).
 *   netbench lat PORT N KEEPALIVE   N sequential GET /small; prints one ns figure per line
 *   netbench bulk PORT BYTES        one GET /bulk/BYTES; prints the ns it took
 *   netbench wait PORT TIMEOUT_MS   exit 0 once GET /small answers
 * Only 127.0.0.1 is ever used. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}
static int write_all(int fd, const char *p, size_t n) {
    while (n) { ssize_t w = write(fd, p, n); if (w < 0) { if (errno == EINTR) continue; return -1; } p += w; n -= (size_t)w; }
    return 0;
}
static struct sockaddr_in addr(int port) {
    struct sockaddr_in a; memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_port = htons((unsigned short)port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}
static char big[1 << 20];

static void serve_conn(int c) {
    char buf[8192]; size_t have = 0;
    int one = 1; setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == sizeof buf) return;
            ssize_t r = read(c, buf + have, sizeof buf - have);
            if (r <= 0) return;
            have += (size_t)r;
        }
        size_t hlen = (size_t)(end - buf) + 4;
        int close_after = memmem(buf, hlen, "onnection: close", 16) != NULL;
        char hdr[256]; int hn;
        if (!strncmp(buf, "GET /bulk/", 10)) {
            unsigned long long n = strtoull(buf + 10, NULL, 10);
            hn = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nContent-Type: application/octet-stream\r\n%s\r\n", n, close_after ? "Connection: close\r\n" : "");
            if (write_all(c, hdr, (size_t)hn)) return;
            while (n) { size_t k = n < sizeof big ? (size_t)n : sizeof big; if (write_all(c, big, k)) return; n -= k; }
        } else {
            hn = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n%s\r\nhello, world\n", close_after ? "Connection: close\r\n" : "");
            if (write_all(c, hdr, (size_t)hn)) return;
        }
        memmove(buf, buf + hlen, have - hlen); have -= hlen;
        if (close_after) return;
    }
}

static int server(int port) {
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = addr(port);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 128)) { perror("netbench server"); return 1; }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) { if (errno == EINTR) continue; perror("accept"); return 1; }
        serve_conn(c); close(c);
    }
}

static int connect_to(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = addr(port);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) { close(s); return -1; }
    return s;
}
/* Send one request and read the whole response (Content-Length framed). Returns body bytes or -1. */
static long long request(int s, const char *path, int keepalive) {
    char req[256]; int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path, keepalive ? "" : "Connection: close\r\n");
    if (write_all(s, req, (size_t)n)) return -1;
    static char buf[1 << 20]; size_t have = 0; char *end;
    while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
        ssize_t r = read(s, buf + have, 65536); if (r <= 0) return -1; have += (size_t)r;
    }
    size_t hlen = (size_t)(end - buf) + 4;
    char *cl = memmem(buf, hlen, "Content-Length: ", 16); if (!cl) return -1;
    long long want = atoll(cl + 16), got = (long long)(have - hlen);
    while (got < want) { ssize_t r = read(s, buf, sizeof buf); if (r <= 0) return -1; got += r; }
    return got;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "server")) return server(atoi(argv[2]));
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 5 && !strcmp(argv[1], "lat")) {
        int port = atoi(argv[2]), n = atoi(argv[3]), ka = atoi(argv[4]), s = -1;
        long long *t = calloc((size_t)n, sizeof *t);
        for (int i = 0; i < n; i++) {
            long long t0 = now_ns();
            if (s < 0 && (s = connect_to(port)) < 0) { perror("connect"); return 1; }
            if (request(s, "/small", ka) != 13) { fprintf(stderr, "netbench: bad response\n"); return 1; }
            if (!ka) { close(s); s = -1; }
            t[i] = now_ns() - t0;
        }
        for (int i = 0; i < n; i++) printf("%lld\n", t[i]);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "bulk")) {
        char path[64]; snprintf(path, sizeof path, "/bulk/%s", argv[3]);
        long long t0 = now_ns();
        int s = connect_to(atoi(argv[2])); if (s < 0) { perror("connect"); return 1; }
        long long got = request(s, path, 0);
        long long dt = now_ns() - t0;
        if (got != atoll(argv[3])) { fprintf(stderr, "netbench: short bulk read %lld\n", got); return 1; }
        printf("%lld\n", dt); return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "wait")) {
        long long deadline = now_ns() + atoll(argv[3]) * 1000000LL;
        while (now_ns() < deadline) {
            int s = connect_to(atoi(argv[2]));
            if (s >= 0) { long long r = request(s, "/small", 0); close(s); if (r == 13) return 0; }
            usleep(20000);
        }
        return 1;
    }
    fprintf(stderr, "usage: netbench server PORT | lat PORT N KEEPALIVE | bulk PORT BYTES | wait PORT TIMEOUT_MS\n");
    return 2;
}
