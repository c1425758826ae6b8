// Private to CLaunch, shared by records and the report stream: reading bounded bytes (a
// cursor that goes bad, and stays bad, on the first read past its end) and the trace.
#ifndef LPA_CURSOR_H
#define LPA_CURSOR_H

#include <stdint.h>
#include <string.h>

struct cursor {
    const uint8_t *at, *end;
    int bad;
};

// Copies `length` bytes to `out` (NULL: skips them); 0, or -1 with `out` zeroed.
static inline int take(struct cursor *c, void *out, size_t length) {
    if (c->bad || (size_t)(c->end - c->at) < length) {
        c->bad = 1;
        if (out) memset(out, 0, length);
        return -1;
    }
    if (out) memcpy(out, c->at, length);
    c->at += length;
    return 0;
}

// LPA_LAUNCH_RECORD_TRACE=1: "lpa-run: WHO: WHAT" on stderr (record.c).
void lpa_trace_line(const char *who, const char *what);

#endif
