// Once the sandbox runs, the launcher only supervises: the relay loop, the audit
// thread, waiting for the init. What it touched to start (parsing, compiling the
// plan, building the filter: most of the executable's ~13 MiB of text and rodata)
// stays resident, counted in its RSS and PSS for the whole run although it is not
// used again. Those pages are clean copies of the file in the page cache: dropping
// this process's mappings of them (MADV_DONTNEED) frees nothing the page cache needs
// and costs a minor fault if a page is used again (the relay's and audit's few pages
// come back on their first event).
//
// Only mappings where that is exactly a refault from the file are touched: private,
// not writable, backed by a file, and holding no anonymous page. A private mapping
// that was ever written (the RELRO region after relocation is read-only now but holds
// relocated copies) has anonymous pages, and MADV_DONTNEED there would bring back the
// file's unrelocated bytes: such mappings are skipped. Nothing here makes a read-only
// mapping writable, so no anonymous page can appear after the check. Not
// MADV_PAGEOUT: it would evict the pages from the page cache when only lpa-run maps
// them, and the next lpa-run would read its binary from disk.
#define _GNU_SOURCE
#include "lpa_shed.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { SHED_MAX = 256 };

struct range { uintptr_t start, end; };

struct scan {
    struct range ranges[SHED_MAX];
    size_t count;
    // The mapping whose fields are being read.
    int candidate;
    long long anonymous_kb;
    long long swap_kb;
    struct range current;
};

static void finish_mapping(struct scan *s) {
    if (s->candidate && s->anonymous_kb == 0 && s->swap_kb == 0 && s->count < SHED_MAX) s->ranges[s->count++] = s->current;
    s->candidate = 0;
}

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// "start-end perms offset dev inode   path"
static int parse_header(const char *line, size_t length, struct scan *s) {
    uintptr_t value[2] = {0, 0};
    size_t i = 0;
    for (int k = 0; k < 2; k++) {
        int digits = 0;
        for (; i < length && hex(line[i]) >= 0; i++, digits++) value[k] = value[k] * 16 + (uintptr_t)hex(line[i]);
        if (digits == 0) return 0;
        if (k == 0) {
            if (i >= length || line[i] != '-') return 0;
            i++;
        }
    }
    if (i + 5 > length || line[i] != ' ') return 0;
    const char *perms = line + i + 1;
    // Skip to the path: four space-separated fields after the range.
    int fields = 0;
    while (i < length && fields < 4) {
        while (i < length && line[i] == ' ') i++;
        while (i < length && line[i] != ' ') i++;
        fields++;
    }
    while (i < length && line[i] == ' ') i++;
    s->current = (struct range){value[0], value[1]};
    s->anonymous_kb = -1;  // both must be read before the mapping counts
    s->swap_kb = -1;
    s->candidate = perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && i < length && line[i] == '/';
    return 1;
}

static void parse_line(const char *line, size_t length, struct scan *s) {
    if (length > 10 && memcmp(line, "Anonymous:", 10) == 0) {
        const char *p = line + 10;
        while (*p == ' ') p++;
        s->anonymous_kb = strtoll(p, NULL, 10);
        return;
    }
    // A written private page that was swapped out is no longer "Anonymous" but
    // "Swap": dropping it would bring back the file's bytes (red team: the RELRO
    // region's relocated pages, swapped out under memory pressure the workload can
    // cause). Only a mapping with neither is a pure refault from the file.
    if (length > 5 && memcmp(line, "Swap:", 5) == 0) {
        const char *p = line + 5;
        while (*p == ' ') p++;
        s->swap_kb = strtoll(p, NULL, 10);
        return;
    }
    // Field lines start "Name:"; a header starts with a hex address and a '-'.
    if (length > 0 && hex(line[0]) >= 0) {
        const char *dash = memchr(line, '-', length);
        const char *colon = memchr(line, ':', length);
        if (dash != NULL && (colon == NULL || dash < colon)) {
            finish_mapping(s);
            parse_header(line, length, s);
        }
    }
}

long long lpa_shed_startup_pages(void) {
    static struct scan s;   // not on the stack: the supervising thread's stack is small
    static char buffer[65536];
    memset(&s, 0, sizeof s);
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buffer + have, sizeof buffer - 1 - have);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            close(fd);
            errno = err;
            return -1;
        }
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buffer[i] != '\n') continue;
            buffer[i] = 0;
            parse_line(buffer + start, i - start, &s);
            start = i + 1;
        }
        memmove(buffer, buffer + start, have - start);
        have -= start;
        if (n == 0) break;
        if (have == sizeof buffer - 1) have = 0;  // a line longer than the buffer: not ours
    }
    close(fd);
    finish_mapping(&s);
    long long advised = 0;
    for (size_t i = 0; i < s.count; i++) {
        size_t length = s.ranges[i].end - s.ranges[i].start;
        if (madvise((void *)s.ranges[i].start, length, MADV_DONTNEED) == 0) advised += (long long)length;
    }
    return advised;
}

static void *shed_main(void *arg) {
    unsigned delay_ms = (unsigned)(uintptr_t)arg;
    struct timespec delay = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {}
    lpa_shed_startup_pages();
    return NULL;
}

int lpa_shed_startup_pages_later(unsigned delay_ms) {
    // Every signal blocked on the thread (the main thread forwards them to the sandbox);
    // detached: it ends after the shed, or with the process if the run ends first.
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t thread;
    int err = pthread_create(&thread, &attr, shed_main, (void *)(uintptr_t)delay_ms);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}
