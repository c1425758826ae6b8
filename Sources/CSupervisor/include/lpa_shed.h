// Gives back the resident pages the launcher needed only to start: see shed.c.
#ifndef LPA_SHED_H
#define LPA_SHED_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Drops this process's resident pages of read-only, private, file-backed mappings that
// hold no private (copied-on-write) page: the executable's text and rodata and its
// libraries'. They refault from the page cache on use. Returns the number of bytes of
// mappings advised (not the resident bytes freed), or -1 with errno when
// /proc/self/smaps cannot be read (nothing was changed then).
long long lpa_shed_startup_pages(void);

// The same, delay_ms later, on a detached thread with every signal blocked: reading
// /proc/self/smaps and dropping the mappings costs about a millisecond, and a run that
// ends sooner (`lpa-run … /bin/true`, whose start-up is benchmarked) would only pay
// it and then fault the pages back in to exit. Returns 0, or -1 with errno when the
// thread could not start (then nothing is shed: the run goes on as before).
int lpa_shed_startup_pages_later(unsigned delay_ms);

#ifdef __cplusplus
}
#endif

#endif
