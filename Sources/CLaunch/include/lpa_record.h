// The launch record (record.c): a run's lowered launch (the finished `lpa_spec`, the
// BPF program, the kept capabilities, the host-side steps) kept in lpa-run's cache
// directory, with a manifest of every host path the compile and the lowering consulted.
// A repeat of the same command line, in the same environment, by the same user, with
// the same lpa-run build and kernel, whose manifest still matches the host, is launched
// from the record by the front (`lpa-run`, Sources/lpa-run/main.c) with
// `lpa_record_find` and `lpa_record_launch`, through the same executor (launch.c) the
// Swift launcher uses. Anything that does not match, or any doubt, is a miss: the front
// execs the core, which compiles, launches, and writes a new record.
//
// The key (exact bytes, compared in full; the file name is only its hash): the record
// format, both executables (device, inode, size, mtime, ctime; see lpa_core_fd),
// real/effective/saved uids and gids, supplementary groups, the working directory,
// uname, the boot id, the process's uid_map and gid_map, which of fds 0-2 are
// terminals, argv, and the whole environment (sorted: callers pass the same variables
// in any order; with a name set twice, which one wins depends on the order, so such an
// environment has no key).
//
// Re-checked on every hit, because they change without any path's metadata changing:
// the unix sockets under bind sources listed in /proc/net/unix and mounted over files
// (/proc/self/mountinfo), and, where the plan relied on it, that no swap is active.
#ifndef LPA_RECORD_H
#define LPA_RECORD_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "lpa_window.h"
#include "lpa_audit.h"
#include "lpa_dns.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    LPA_RECORD_MAX_BYTES = 4 << 20,   // a larger record file is not read
    LPA_RECORD_MAX_ITEMS = 1 << 16,   // any list in a record
};

// What lstat(2) (follow = 0) or stat(2) (follow = 1) says of a path: every field that
// changes when the object is replaced, renamed over, written, or has entries added or
// removed (a directory's mtime and ctime). `err` is the errno when the call failed.
struct lpa_fingerprint {
    int32_t err;
    uint32_t mode, uid, gid;
    uint64_t dev, ino, size;
    int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
};

// How a manifest entry is taken and compared.
enum lpa_manifest_how {
    LPA_MANIFEST_FOLLOW = 1,     // stat (what a link leads to), else lstat
    LPA_MANIFEST_IDENTITY = 2,   // only err, mode, uid, gid, dev, ino: what the path is,
                                 // not what a file holds or a directory lists (a link:
                                 // also its size and ctime, as a new link may reuse an inode)
};

// Takes the fingerprint of `path` now (`how`: LPA_MANIFEST_* bits). Returns 1 when the
// full fingerprint is wanted and its mtime or ctime is not older than `racy_after_ns`
// (CLOCK_REALTIME nanoseconds): a change within the same timestamp tick could follow
// unseen, so such a path must not be recorded; else 0.
int lpa_fingerprint_take(const char *path, int32_t how, int64_t racy_after_ns, struct lpa_fingerprint *out);

// 1 when two fingerprints taken with `how` describe the same thing, else 0.
int lpa_fingerprint_same(const struct lpa_fingerprint *a, const struct lpa_fingerprint *b, int32_t how);

// One manifest entry, as the Swift side hands it to the encoder.
struct lpa_manifest_entry {
    const char *path;
    int32_t how;
    struct lpa_fingerprint print;
};

// A host-side step of one mount op, redone on every launch from a record.
enum lpa_host_step_kind {
    LPA_HOST_NONE = 0,
    LPA_HOST_OPEN_SOURCE = 1,   // op.fd = lpa_open_trusted_path(path)
    LPA_HOST_TMPFS = 2,         // op.fd = lpa_launch_host_tmpfs(mode, size, noswap, attrs, owner)
};

struct lpa_host_step {
    int32_t kind;
    const char *path;
    uint32_t mode;
    uint64_t size;
    uint64_t attrs;
};

// One audit rule with the names the exit report uses (AuditRule on the Swift side).
struct lpa_record_audit_rule {
    struct lpa_audit_rule rule;
    const char *syscall;
    const char *errno_name;
    const char *expected;      // NULL: a refusal that is reported as blocked
};

// What the record needs besides the spec.
struct lpa_record_extra {
    const struct lpa_record_audit_rule *audit_rules;   // the notifications the filter sends
    size_t audit_rule_count;
    const struct lpa_host_step *host_steps;   // one per spec->fs_ops entry
    const struct lpa_manifest_entry *manifest;
    size_t manifest_count;
    const char *const *socket_bases;          // bind sources (as given and real), for the re-check
    size_t socket_base_count;
    int32_t requires_no_swap;                 // the plan ran without noswap because no swap was active
    int32_t quiet;                            // -q: the exit report is never printed
    uint32_t inside_uid, outside_uid, inside_gid, outside_gid;   // the id maps
};

// Appends to a growing buffer (malloc). `failed` is set when memory ran out.
struct lpa_bytes {
    uint8_t *data;
    size_t length, capacity;
    int failed;
};
void lpa_bytes_put(struct lpa_bytes *bytes, const void *data, size_t length);
void lpa_bytes_free(struct lpa_bytes *bytes);

// The two executables: `lpa-run`, the front people run (a small C program that launches
// from records and otherwise execs the core), and `lpa-run-core`, the Swift program
// that compiles, launches and writes records. Each finds the other beside itself (a
// build directory) or where `make install` puts it (bin/lpa-run,
// libexec/lpa-run/lpa-run-core). The front takes a core only through a path its owner
// or root controls (record.c `trusted_open`) and executes the very file it checked.
#define LPA_CORE_NAME "lpa-run-core"
// The front's core: an O_PATH descriptor to execute (execveat, AT_EMPTY_PATH); -1 when
// none is found or trusted. Also what the key covers.
int lpa_core_fd(void);
// 1 when process `pid` runs the front this core belongs to, else 0.
int lpa_is_front(pid_t pid);

// This process's key (see above), computed once at the fast path's start and kept for
// the record a miss writes. Returns NULL when there is none (no cwd, an unreadable
// /proc/self/exe...): then nothing is read or written.
const struct lpa_bytes *lpa_record_key(void);

// The file name of this process's record in the cache directory ("launch-<hash>.v1").
const char *lpa_record_name(void);

// Encodes a record: key, manifest, the spec and `extra`. Returns 0, or -1 (errno
// ENOTSUP) when the spec holds something a record does not carry (a terminal, connect
// listeners, the degraded mode, a descriptor it cannot make again); `out` is then empty.
int lpa_record_encode(const struct lpa_spec *spec, const struct lpa_record_extra *extra, struct lpa_bytes *out);

// A decoded record: the spec with every pointer into `file` or arrays owned here.
struct lpa_record;

// Decodes `length` bytes (copied). NULL when malformed (every length, count and string
// is checked against the buffer) or when the key differs from this process's.
struct lpa_record *lpa_record_decode(const uint8_t *bytes, size_t length);
void lpa_record_free(struct lpa_record *record);

// The decoded spec (pointers valid while the record is).
const struct lpa_spec *lpa_record_spec(const struct lpa_record *record);

// The audit rules (their C view and names), for the Swift supervisor that reports them.
size_t lpa_record_audit_rule_count(const struct lpa_record *record);
const struct lpa_record_audit_rule *lpa_record_audit_rules(const struct lpa_record *record);
// The same rules' C view alone, contiguous (audit.c's `rules`).
const struct lpa_audit_rule *lpa_record_audit_c_rules(const struct lpa_record *record);
// -q: the exit report is never printed.
int lpa_record_quiet(const struct lpa_record *record);

// Re-checks a decoded record against the host: every manifest entry, the sockets under
// bind sources, swap. 0 when it still holds; -1 otherwise.
int lpa_record_holds(const struct lpa_record *record);

enum lpa_record_result {
    LPA_RECORD_MISS = 0,          // nothing ran: compile and launch the usual way
    LPA_RECORD_RAN = 1,           // the workload ran: `status`, `tmpfs_bytes`
    LPA_RECORD_INTERRUPTED = 2,   // a stopping signal during setup: nothing ran (`signal`)
    LPA_RECORD_FAILED = 3,        // the relay loop could not start (`step`, `err`); the init was killed
};

struct lpa_record_outcome {
    int32_t status;
    int32_t signal;
    int32_t quiet;
    int32_t has_tmpfs_bytes;
    uint64_t tmpfs_bytes;
    const char *step;
    int32_t err;
};

// The fast path, called first thing in the front's main: this process's record (key, cache
// directory, file, decoding); NULL is a miss. Whether it still holds
// (`lpa_record_holds`) is checked on a thread of its own meanwhile, and
// `lpa_record_launch` kills the cloned init (which has done nothing yet) and misses
// when it does not. LPA_START_CACHE=off turns it off.
struct lpa_record *lpa_record_find(void);

// Launches a found record through the executor (launch.c). With audit rules, the
// workload's notification listener is received on a socket pair made here and put into
// `audit->listener` (the caller fills the rules and the sink) for the run, then closed.
// `dns` receives the DNS sink's questions. A setup that fails in the sandbox is not
// reported here: the record is removed and the result is a miss, so that the Swift path
// runs (and words the error) exactly as without a record.
enum lpa_record_result lpa_record_launch(struct lpa_record *record, struct lpa_audit_spec *audit,
                                         const struct lpa_dns_spec *dns, struct lpa_record_outcome *outcome);

// lpa-run's argv and environment areas (/proc/self/stat fields 48-51), which the init
// clears in its copy of memory; left unset when unknown.
void lpa_argument_areas(struct lpa_spec *spec);

// The cache directory records live in ($XDG_CACHE_HOME or $HOME/.cache, + /lpa-run),
// opened (O_PATH) through root's links only, owned by the caller and writable by no one
// else; -1 otherwise, or with LPA_START_CACHE=off.
int lpa_record_directory(void);

#ifdef __cplusplus
}
#endif
#endif
