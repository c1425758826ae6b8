// The launch record: its key, its file format, the checks of a hit, and the fast path
// (see lpa_record.h). The format is defined once, here: the Swift side hands the spec it
// built to `lpa_record_encode` and never writes record bytes itself.
//
// File layout (native byte order; a record never leaves the machine it was written on):
//   magic "LPAREC\x01\n"
//   blob key
//   u32 n, n x { u32 how, str path, fingerprint }                    the manifest
//   u32 n, n x str                                                   socket bases
//   u32 requires_no_swap, quiet, inside_uid, outside_uid, inside_gid, outside_gid
//   u64 clone_flags; u32 new_pid_ns, new_net_ns, dns_sink; i32 last_cap
//   ostr hostname, str workdir, str exec_path
//   u32 uid, gid
//   u32 n, n x op { i32 kind, plan_index; ostr source; str target; ostr data; u64 flags,
//                   attr_set; u32 mode; i32 target_is_file, optional;
//                   i32 host kind; ostr host path; u32 mode; u64 size, attrs }
//   u32 n, n x str argv; u32 n, n x str envp
//   u32 n, n x { i32 resource; u64 soft, hard }
//   u32 n, n x i32 keep_caps
//   u32 n, n x 8-byte BPF instruction
//   i32 landlock_mode; u64 handled, handled_net
//   u32 n, n x { str path; u64 access; i32 optional }; u32 n, n x { u64 port, access }
//   u32 n, n x { lpa_audit_rule; str syscall, errno_name; ostr expected }
// where blob = u32 length + bytes, str = u32 length + bytes + NUL (no NUL inside), ostr =
// str or u32 0xffffffff for NULL.
#define _GNU_SOURCE
#include "lpa_record.h"
#include "lpa_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <sys/capability.h>

#include "cursor.h"
#include "lpa_relay.h"
#include "lpa_shed.h"
#include "lpa_shims.h"

// LPA_LAUNCH_RECORD_TRACE=1: one line on stderr for each decision (tests, and people
// asking why a run was not fast). Names no path: a path may hold anything.
void lpa_trace_line(const char *who, const char *what) {
    const char *on = getenv("LPA_LAUNCH_RECORD_TRACE");
    if (!on || strcmp(on, "1") != 0) return;
    char line[160];
    int n = snprintf(line, sizeof line, "lpa-run: %s: %s\n", who, what);
    if (n > 0) {
        ssize_t ignored = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)ignored;
    }
}

static void trace(const char *what) { lpa_trace_line("launch record", what); }

static const char magic[8] = { 'L', 'P', 'A', 'R', 'E', 'C', 1, '\n' };

// ---- Bytes ----

void lpa_bytes_free(struct lpa_bytes *b) {
    free(b->data);
    *b = (struct lpa_bytes){ 0 };
}

void lpa_bytes_put(struct lpa_bytes *b, const void *data, size_t length) {
    if (b->failed) return;
    if (b->length + length > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->length + length) capacity *= 2;
        uint8_t *grown = realloc(b->data, capacity);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    if (length) memcpy(b->data + b->length, data, length);
    b->length += length;
}

static void put(struct lpa_bytes *b, const void *data, size_t length) { lpa_bytes_put(b, data, length); }
static void put_u32(struct lpa_bytes *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(struct lpa_bytes *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_blob(struct lpa_bytes *b, const void *data, size_t length) {
    put_u32(b, (uint32_t)length);
    put(b, data, length);
}
static void put_str(struct lpa_bytes *b, const char *s) {
    size_t length = strlen(s);
    put_u32(b, (uint32_t)length);
    put(b, s, length + 1);
}
static void put_ostr(struct lpa_bytes *b, const char *s) {
    if (s) put_str(b, s);
    else put_u32(b, UINT32_MAX);
}

// A whole procfs file appended as a blob; one that cannot be opened as length
// 0xffffffff. Never a part of one: a read error or more than 64 MiB (argv and the
// environment can be several MiB) fails the buffer, so no key is made from a prefix.
static void put_file(struct lpa_bytes *b, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        put_u32(b, UINT32_MAX);
        return;
    }
    struct lpa_bytes content = { 0 };
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) content.failed = 1;
        if (n <= 0) break;
        put(&content, chunk, (size_t)n);
        if (content.length > (64u << 20)) content.failed = 1;
        if (content.failed) break;
    }
    close(fd);
    if (content.failed) b->failed = 1;
    else put_blob(b, content.data, content.length);
    lpa_bytes_free(&content);
}

// ---- Reading ----

static uint32_t take_u32(struct cursor *c) { uint32_t v = 0; take(c, &v, sizeof v); return v; }
static uint64_t take_u64(struct cursor *c) { uint64_t v = 0; take(c, &v, sizeof v); return v; }
static int32_t take_i32(struct cursor *c) { int32_t v = 0; take(c, &v, sizeof v); return v; }

static uint32_t take_count(struct cursor *c) {
    uint32_t n = take_u32(c);
    if (n > LPA_RECORD_MAX_ITEMS) c->bad = 1;
    return c->bad ? 0 : n;
}

// A string inside the buffer: NUL-terminated there, no NUL before.
static const char *take_str(struct cursor *c) {
    uint32_t length = take_u32(c);
    if (c->bad || length == UINT32_MAX || (size_t)(c->end - c->at) < (size_t)length + 1) {
        c->bad = 1;
        return "";
    }
    const char *s = (const char *)c->at;
    if (s[length] != 0 || memchr(s, 0, length) != NULL) {
        c->bad = 1;
        return "";
    }
    c->at += (size_t)length + 1;
    return s;
}
static const char *take_ostr(struct cursor *c) {
    if (c->bad || (size_t)(c->end - c->at) < 4) {
        c->bad = 1;
        return NULL;
    }
    uint32_t length;
    memcpy(&length, c->at, 4);
    if (length == UINT32_MAX) {
        c->at += 4;
        return NULL;
    }
    return take_str(c);
}

// ---- Fingerprints ----

int lpa_fingerprint_take(const char *path, int32_t how, int64_t racy_after_ns, struct lpa_fingerprint *out) {
    struct stat st;
    memset(out, 0, sizeof *out);
    if (((how & LPA_MANIFEST_FOLLOW) ? stat(path, &st) : lstat(path, &st)) != 0) {
        out->err = errno ? errno : EIO;
        return 0;
    }
    out->mode = st.st_mode;
    out->uid = st.st_uid;
    out->gid = st.st_gid;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    out->size = (uint64_t)st.st_size;
    out->mtime_sec = st.st_mtim.tv_sec;
    out->mtime_nsec = st.st_mtim.tv_nsec;
    out->ctime_sec = st.st_ctim.tv_sec;
    out->ctime_nsec = st.st_ctim.tv_nsec;
    if ((how & LPA_MANIFEST_IDENTITY) && !S_ISLNK(out->mode)) return 0;
    int64_t mtime = out->mtime_sec * 1000000000LL + out->mtime_nsec, ctime = out->ctime_sec * 1000000000LL + out->ctime_nsec;
    return mtime >= racy_after_ns || ctime >= racy_after_ns;
}

int lpa_fingerprint_same(const struct lpa_fingerprint *a, const struct lpa_fingerprint *b, int32_t how) {
    if (a->err || b->err) return a->err == b->err;
    int same = a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->dev == b->dev && a->ino == b->ino;
    // A link cannot change in place: a new one (which may reuse the old inode number)
    // has a ctime of its own, and its size is its target's length (red team).
    if ((how & LPA_MANIFEST_IDENTITY) && S_ISLNK(a->mode))
        return same && a->size == b->size && a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
    if (how & LPA_MANIFEST_IDENTITY) return same;
    return same && a->size == b->size && a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
           a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

static void put_print(struct lpa_bytes *b, const struct lpa_fingerprint *p) { put(b, p, sizeof *p); }

// ---- The key ----

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// The environment lpa-run was started with (/proc/self/environ), its entries sorted;
// -1 when a name is set twice (which value wins depends on the order) or on failure.
static int put_environment(struct lpa_bytes *b) {
    struct lpa_bytes raw = { 0 };
    put_file(&raw, "/proc/self/environ");
    if (raw.failed || raw.length < 4) {
        lpa_bytes_free(&raw);
        return -1;
    }
    uint32_t length;
    memcpy(&length, raw.data, 4);
    if (length == UINT32_MAX || (size_t)length + 4 > raw.length) {
        lpa_bytes_free(&raw);
        return -1;
    }
    char *text = (char *)raw.data + 4;
    size_t count = 0;
    for (size_t i = 0; i < length; i++)
        if (text[i] == 0) count++;
    char **entries = calloc(count + 1, sizeof *entries);
    if (!entries) {
        lpa_bytes_free(&raw);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < length && n < count; n++) {
        entries[n] = text + i;
        i += strlen(text + i) + 1;
    }
    qsort(entries, n, sizeof *entries, compare_strings);
    int status = 0;
    put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            size_t name = strcspn(entries[i], "=");
            if (strncmp(entries[i], entries[i - 1], name) == 0 && strcspn(entries[i - 1], "=") == name) status = -1;
        }
        put_str(b, entries[i]);
    }
    free(entries);
    lpa_bytes_free(&raw);
    return status;
}

// The executables, found once. The core's file name is fixed; anything else is the
// front (a copy under another name still finds its core). Each looks for the other in
// the two places an install or a build directory puts it; the first that is a regular
// file wins, so both processes name the same pair.
static struct {
    char front[PATH_MAX], core[PATH_MAX];
    struct stat front_stat, core_stat;
    int core_fd;   // the front's: the checked core, O_PATH
} binaries = { .core_fd = -1 };
static int binaries_state;   // 0 not looked for, 1 found, -1 not found

static int regular_file(const char *path, struct stat *st) {
    return stat(path, st) == 0 && S_ISREG(st->st_mode);
}

static int regular_file_at(const char *dir, const char *relative, struct stat *st) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, relative);
    return n > 0 && (size_t)n < sizeof path && regular_file(path, st);
}

// The front executes the core it finds, so the core must be one its owner (or root)
// put there, and it must execute the file it checked. `absolute` is walked from "/"
// one component at a time (openat O_PATH|O_NOFOLLOW: no link anywhere): every
// directory on the way and the file are owned by root or by `owner` and writable by no
// one else, except a sticky directory (others may add entries there but not rename or
// replace ours; and in one, the file must have a single link, since a hard link someone
// else made to a root-owned program would pass the owner check where
// fs.protected_hardlinks is off). Returns an O_PATH descriptor of the file, which the
// front executes (execveat): renaming a directory on the way afterwards changes nothing.
static int trusted_open(const char *absolute, uid_t owner, struct stat *out) {
    if (absolute[0] != '/') return -1;
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int shared = 0;   // a sticky directory others may write to is on the way
    const char *rest = absolute + 1;
    for (;;) {
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) break;
        int sticky_shared = S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && (st.st_mode & 022);
        int writable_by_others = (st.st_mode & 022) != 0 && !sticky_shared;
        if ((st.st_uid != 0 && st.st_uid != owner) || writable_by_others) break;
        shared |= sticky_shared;
        while (*rest == '/') rest++;
        if (!*rest) {
            if (!S_ISREG(st.st_mode) || (shared && st.st_nlink != 1)) break;
            *out = st;
            return fd;
        }
        if (!S_ISDIR(st.st_mode)) break;
        const char *slash = strchr(rest, '/');
        size_t length = slash ? (size_t)(slash - rest) : strlen(rest);
        char component[NAME_MAX + 1];
        if (length == 0 || length > NAME_MAX) break;
        memcpy(component, rest, length);
        component[length] = 0;
        if (strcmp(component, ".") == 0 || strcmp(component, "..") == 0) break;
        int next = openat(fd, component, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
        rest += length;
    }
    if (fd >= 0) close(fd);
    return -1;
}

static int find_binaries(void) {
    if (binaries_state) return binaries_state > 0 ? 0 : -1;
    binaries_state = -1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    const char *name = slash + 1, *dir = self;
    int is_core = strcmp(name, LPA_CORE_NAME) == 0;
    struct stat own;
    if (stat("/proc/self/exe", &own) != 0) return -1;
    char *other = is_core ? binaries.front : binaries.core;
    struct stat *other_stat = is_core ? &binaries.front_stat : &binaries.core_stat;
    if (is_core) {
        // The core looks for the front only for the key (a wrong one is a miss).
        const char *where = "lpa-run";
        int found = regular_file_at(dir, where, other_stat);
        if (!found) {
            where = "../../bin/lpa-run";
            found = regular_file_at(dir, where, other_stat);
        }
        if (!found || snprintf(other, PATH_MAX, "%s/%s", dir, where) >= PATH_MAX) return -1;
    } else {
        // The front executes what it finds: beside it, or in ../libexec/lpa-run/ (the
        // parent taken from the real path, which has no "." or ".." components).
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", dir);
        char *up = strrchr(parent, '/');
        if (up) *up = 0;
        int w = snprintf(other, PATH_MAX, "%s/%s", dir, LPA_CORE_NAME);
        binaries.core_fd = w > 0 && w < PATH_MAX ? trusted_open(other, own.st_uid, other_stat) : -1;
        if (binaries.core_fd < 0) {
            w = snprintf(other, PATH_MAX, "%s/libexec/lpa-run/%s", parent, LPA_CORE_NAME);
            binaries.core_fd = w > 0 && w < PATH_MAX ? trusted_open(other, own.st_uid, other_stat) : -1;
        }
        if (binaries.core_fd < 0) return -1;
    }
    char *mine = is_core ? binaries.core : binaries.front;
    if (snprintf(mine, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) return -1;
    if (is_core) binaries.core_stat = own;
    else binaries.front_stat = own;
    binaries_state = 1;
    return 0;
}

int lpa_core_fd(void) { return find_binaries() == 0 ? binaries.core_fd : -1; }

int lpa_is_front(pid_t pid) {
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    return find_binaries() == 0 && stat(path, &st) == 0 && st.st_dev == binaries.front_stat.st_dev &&
           st.st_ino == binaries.front_stat.st_ino;
}

static struct lpa_bytes key_bytes;
static int key_state;   // 0 not computed, 1 computed, -1 none
static char record_name[64];

const struct lpa_bytes *lpa_record_key(void) {
    if (key_state) return key_state > 0 ? &key_bytes : NULL;
    key_state = -1;
    struct lpa_bytes *b = &key_bytes;
    put_str(b, "lpa-run launch record 2");
    // Both executables: the front that reads records and the core that writes them.
    if (find_binaries() != 0) return NULL;
    const struct stat *exes[] = { &binaries.front_stat, &binaries.core_stat };
    for (size_t i = 0; i < 2; i++) {
        const struct stat *exe = exes[i];
        put_u64(b, exe->st_dev);
        put_u64(b, exe->st_ino);
        put_u64(b, (uint64_t)exe->st_size);
        put_u64(b, (uint64_t)exe->st_mtim.tv_sec);
        put_u64(b, (uint64_t)exe->st_mtim.tv_nsec);
        put_u64(b, (uint64_t)exe->st_ctim.tv_sec);
        put_u64(b, (uint64_t)exe->st_ctim.tv_nsec);
    }
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) return NULL;
    put_u32(b, ruid); put_u32(b, euid); put_u32(b, suid);
    put_u32(b, rgid); put_u32(b, egid); put_u32(b, sgid);
    gid_t groups[NGROUPS_MAX];
    int ngroups = getgroups(NGROUPS_MAX, groups);
    if (ngroups < 0) return NULL;
    put_blob(b, groups, (size_t)ngroups * sizeof groups[0]);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    put_str(b, cwd);
    struct utsname names;
    if (uname(&names) != 0) return NULL;
    put_str(b, names.release);
    put_str(b, names.version);
    put_str(b, names.machine);
    put_file(b, "/proc/sys/kernel/random/boot_id");
    put_file(b, "/proc/self/uid_map");
    put_file(b, "/proc/self/gid_map");
    uint32_t terminals = 0;
    for (int fd = 0; fd < 3; fd++)
        if (isatty(fd)) terminals |= 1u << fd;
    put_u32(b, terminals);
    // argv and the environment lpa-run was started with.
    put_file(b, "/proc/self/cmdline");
    if (put_environment(b) != 0) {
        lpa_bytes_free(b);
        return NULL;
    }
    if (b->failed) {
        lpa_bytes_free(b);
        return NULL;
    }
    // FNV-1a, 64 bits: only the file's name; the whole key is compared on reading.
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < b->length; i++) hash = (hash ^ b->data[i]) * 0x100000001b3ULL;
    snprintf(record_name, sizeof record_name, "launch-%016llx.v1", (unsigned long long)hash);
    key_state = 1;
    return b;
}

const char *lpa_record_name(void) { return lpa_record_key() ? record_name : NULL; }

// ---- Encoding ----

int lpa_record_encode(const struct lpa_spec *s, const struct lpa_record_extra *x, struct lpa_bytes *out) {
    *out = (struct lpa_bytes){ 0 };
    const struct lpa_bytes *key = lpa_record_key();
    if (!key) {
        errno = ENOENT;
        return -1;
    }
    // What a record does not carry: those runs take the Swift path every time.
    if (s->console_fd >= 0 || s->tty_fd_mask || s->termios || s->winsize || s->null_stdin ||
        (s->audit_fd >= 0) != (x->audit_rule_count > 0) ||
        s->connect_port_count || s->connect_paths || s->extra_seccomp || s->degraded_set_ids || !s->seccomp ||
        !s->exec_path || !s->workdir) {
        errno = ENOTSUP;
        return -1;
    }
    for (size_t i = 0; i < s->fs_op_count; i++) {
        const struct lpa_host_step *h = &x->host_steps[i];
        // Every descriptor must be one the fast path can make again.
        if (s->fs_ops[i].fd >= 0 && h->kind == LPA_HOST_NONE) {
            errno = ENOTSUP;
            return -1;
        }
    }
    put(out, magic, sizeof magic);
    put_blob(out, key->data, key->length);
    put_u32(out, (uint32_t)x->manifest_count);
    for (size_t i = 0; i < x->manifest_count; i++) {
        put_u32(out, (uint32_t)x->manifest[i].how);
        put_str(out, x->manifest[i].path);
        put_print(out, &x->manifest[i].print);
    }
    put_u32(out, (uint32_t)x->socket_base_count);
    for (size_t i = 0; i < x->socket_base_count; i++) put_str(out, x->socket_bases[i]);
    put_u32(out, (uint32_t)x->requires_no_swap);
    put_u32(out, (uint32_t)x->quiet);
    put_u32(out, x->inside_uid);
    put_u32(out, x->outside_uid);
    put_u32(out, x->inside_gid);
    put_u32(out, x->outside_gid);

    put_u64(out, s->clone_flags);
    put_u32(out, (uint32_t)s->new_pid_ns);
    put_u32(out, (uint32_t)s->new_net_ns);
    put_u32(out, (uint32_t)s->dns_sink);
    put_u32(out, (uint32_t)s->last_cap);
    put_ostr(out, s->hostname);
    put_str(out, s->workdir);
    put_str(out, s->exec_path);
    put_u32(out, s->uid);
    put_u32(out, s->gid);

    put_u32(out, (uint32_t)s->fs_op_count);
    for (size_t i = 0; i < s->fs_op_count; i++) {
        const struct lpa_fs_op *op = &s->fs_ops[i];
        const struct lpa_host_step *h = &x->host_steps[i];
        put_u32(out, (uint32_t)op->kind);
        put_u32(out, (uint32_t)op->plan_index);
        put_ostr(out, op->source);
        put_str(out, op->target);
        put_ostr(out, op->data);
        put_u64(out, op->flags);
        put_u64(out, op->attr_set);
        put_u32(out, op->mode);
        put_u32(out, (uint32_t)op->target_is_file);
        put_u32(out, (uint32_t)op->optional);
        put_u32(out, (uint32_t)h->kind);
        put_ostr(out, h->path);
        put_u32(out, h->mode);
        put_u64(out, h->size);
        put_u64(out, h->attrs);
    }
    size_t n = 0;
    while (s->argv[n]) n++;
    put_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) put_str(out, s->argv[i]);
    n = 0;
    while (s->envp[n]) n++;
    put_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) put_str(out, s->envp[i]);
    put_u32(out, (uint32_t)s->rlimit_count);
    for (size_t i = 0; i < s->rlimit_count; i++) {
        put_u32(out, (uint32_t)s->rlimits[i].resource);
        put_u64(out, s->rlimits[i].soft);
        put_u64(out, s->rlimits[i].hard);
    }
    put_u32(out, (uint32_t)s->keep_cap_count);
    for (size_t i = 0; i < s->keep_cap_count; i++) put_u32(out, (uint32_t)s->keep_caps[i]);
    put_u32(out, s->seccomp->len);
    put(out, s->seccomp->filter, (size_t)s->seccomp->len * sizeof(struct sock_filter));
    put_u32(out, (uint32_t)s->landlock_mode);
    put_u64(out, s->landlock_handled);
    put_u64(out, s->landlock_handled_net);
    put_u32(out, (uint32_t)s->landlock_rule_count);
    for (size_t i = 0; i < s->landlock_rule_count; i++) {
        put_str(out, s->landlock_rules[i].path);
        put_u64(out, s->landlock_rules[i].access);
        put_u32(out, (uint32_t)s->landlock_rules[i].optional);
    }
    put_u32(out, (uint32_t)s->landlock_port_count);
    for (size_t i = 0; i < s->landlock_port_count; i++) {
        put_u64(out, s->landlock_ports[i].port);
        put_u64(out, s->landlock_ports[i].access);
    }
    put_u32(out, (uint32_t)x->audit_rule_count);
    for (size_t i = 0; i < x->audit_rule_count; i++) {
        const struct lpa_record_audit_rule *a = &x->audit_rules[i];
        put(out, &a->rule, sizeof a->rule);
        put_str(out, a->syscall);
        put_str(out, a->errno_name);
        put_ostr(out, a->expected);
    }
    if (out->failed || out->length > LPA_RECORD_MAX_BYTES) {
        lpa_bytes_free(out);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

// ---- Decoding ----

struct manifest_item {
    const char *path;
    int32_t how;
    struct lpa_fingerprint print;
};

struct lpa_record {
    uint8_t *file;
    size_t length;
    struct manifest_item *manifest;
    size_t manifest_count;
    const char **bases;
    size_t base_count;
    int32_t requires_no_swap, quiet;
    uint32_t inside_uid, outside_uid, inside_gid, outside_gid;
    struct lpa_spec spec;
    struct lpa_fs_op *ops;
    struct lpa_host_step *host;
    char **argv, **envp;
    struct lpa_rlimit *rlimits;
    int32_t *keep;
    struct sock_filter *bpf;
    struct sock_fprog program;
    struct lpa_landlock_rule *rules;
    struct lpa_landlock_port *ports;
    struct lpa_record_audit_rule *audit;
    struct lpa_audit_rule *audit_rules;
    size_t audit_count;
    // The host re-check (lpa_record_holds), run on a thread of its own while the sandbox
    // is cloned: `checking` until joined, then `holds` is its result.
    pthread_t checker;
    int checking;
    int holds;
};

static void *check_main(void *arg) {
    struct lpa_record *r = arg;
    r->holds = lpa_record_holds(r);
    return NULL;
}

// Starts the re-check on a thread (every signal blocked there: the main thread takes
// them); where no thread can be had, it runs here.
static void check_start(struct lpa_record *r) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    r->checking = pthread_create(&r->checker, NULL, check_main, r) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!r->checking) r->holds = lpa_record_holds(r);
}

// The re-check's result: 0 when the record still holds.
static int check_result(struct lpa_record *r) {
    if (r->checking) {
        pthread_join(r->checker, NULL);
        r->checking = 0;
    }
    return r->holds;
}

void lpa_record_free(struct lpa_record *r) {
    if (!r) return;
    check_result(r);
    free(r->manifest);
    free(r->bases);
    free(r->ops);
    free(r->host);
    free(r->argv);
    free(r->envp);
    free(r->rlimits);
    free(r->keep);
    free(r->bpf);
    free(r->rules);
    free(r->ports);
    free(r->audit);
    free(r->audit_rules);
    free(r->file);
    free(r);
}

// calloc for n items, at least one byte (so that NULL means out of memory).
static void *items(size_t n, size_t size) { return calloc(n ? n : 1, size); }

static char **take_strings(struct cursor *c) {
    uint32_t n = take_count(c);
    char **list = items((size_t)n + 1, sizeof *list);
    if (!list) {
        c->bad = 1;
        return NULL;
    }
    for (uint32_t i = 0; i < n && !c->bad; i++) list[i] = (char *)take_str(c);
    list[n] = NULL;
    return list;
}

struct lpa_record *lpa_record_decode(const uint8_t *bytes, size_t length) {
    const struct lpa_bytes *key = lpa_record_key();
    if (!key || length < sizeof magic || length > LPA_RECORD_MAX_BYTES || memcmp(bytes, magic, sizeof magic) != 0)
        return NULL;
    struct lpa_record *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->file = malloc(length);
    if (!r->file) {
        free(r);
        return NULL;
    }
    memcpy(r->file, bytes, length);
    r->length = length;
    struct cursor c = { .at = r->file + sizeof magic, .end = r->file + length };
    uint32_t key_length = take_u32(&c);
    if (c.bad || key_length != key->length || (size_t)(c.end - c.at) < key_length ||
        memcmp(c.at, key->data, key_length) != 0)
        goto bad;
    c.at += key_length;

    r->manifest_count = take_count(&c);
    r->manifest = items(r->manifest_count, sizeof *r->manifest);
    if (!r->manifest) goto bad;
    for (size_t i = 0; i < r->manifest_count && !c.bad; i++) {
        r->manifest[i].how = take_i32(&c);
        r->manifest[i].path = take_str(&c);
        take(&c, &r->manifest[i].print, sizeof r->manifest[i].print);
    }
    r->base_count = take_count(&c);
    r->bases = items(r->base_count, sizeof *r->bases);
    if (!r->bases) goto bad;
    for (size_t i = 0; i < r->base_count && !c.bad; i++) r->bases[i] = take_str(&c);
    r->requires_no_swap = take_i32(&c);
    r->quiet = take_i32(&c);
    r->inside_uid = take_u32(&c);
    r->outside_uid = take_u32(&c);
    r->inside_gid = take_u32(&c);
    r->outside_gid = take_u32(&c);

    struct lpa_spec *s = &r->spec;
    memset(s, 0, sizeof *s);
    s->clone_flags = take_u64(&c);
    s->new_pid_ns = take_i32(&c);
    s->new_net_ns = take_i32(&c);
    s->dns_sink = take_i32(&c);
    s->last_cap = take_i32(&c);
    s->hostname = take_ostr(&c);
    s->workdir = take_str(&c);
    s->exec_path = take_str(&c);
    s->uid = take_u32(&c);
    s->gid = take_u32(&c);

    s->fs_op_count = take_count(&c);
    r->ops = items(s->fs_op_count, sizeof *r->ops);
    r->host = items(s->fs_op_count, sizeof *r->host);
    if (!r->ops || !r->host) goto bad;
    for (size_t i = 0; i < s->fs_op_count && !c.bad; i++) {
        struct lpa_fs_op *op = &r->ops[i];
        struct lpa_host_step *h = &r->host[i];
        op->kind = take_i32(&c);
        op->plan_index = take_i32(&c);
        op->source = take_ostr(&c);
        op->target = take_str(&c);
        op->data = take_ostr(&c);
        op->flags = (unsigned long)take_u64(&c);
        op->attr_set = take_u64(&c);
        op->mode = take_u32(&c);
        op->target_is_file = take_i32(&c);
        op->optional = take_i32(&c);
        op->fd = -1;
        h->kind = take_i32(&c);
        h->path = take_ostr(&c);
        h->mode = take_u32(&c);
        h->size = take_u64(&c);
        h->attrs = take_u64(&c);
        if (op->kind < LPA_FS_MKDIR || op->kind > LPA_FS_FILE || h->kind < LPA_HOST_NONE || h->kind > LPA_HOST_TMPFS ||
            (h->kind == LPA_HOST_OPEN_SOURCE && !h->path))
            c.bad = 1;
    }
    s->fs_ops = r->ops;
    r->argv = take_strings(&c);
    r->envp = take_strings(&c);
    if (c.bad || !r->argv[0]) goto bad;
    s->argv = r->argv;
    s->envp = r->envp;
    s->rlimit_count = take_count(&c);
    r->rlimits = items(s->rlimit_count, sizeof *r->rlimits);
    if (!r->rlimits) goto bad;
    for (size_t i = 0; i < s->rlimit_count && !c.bad; i++) {
        r->rlimits[i].resource = take_i32(&c);
        r->rlimits[i].soft = take_u64(&c);
        r->rlimits[i].hard = take_u64(&c);
    }
    s->rlimits = r->rlimits;
    s->keep_cap_count = take_count(&c);
    r->keep = items(s->keep_cap_count, sizeof *r->keep);
    if (!r->keep) goto bad;
    for (size_t i = 0; i < s->keep_cap_count && !c.bad; i++) r->keep[i] = take_i32(&c);
    s->keep_caps = r->keep;
    uint32_t instructions = take_count(&c);
    if (instructions == 0 || instructions > 4096) goto bad;
    r->bpf = items(instructions, sizeof *r->bpf);
    if (!r->bpf || take(&c, r->bpf, (size_t)instructions * sizeof *r->bpf) != 0) goto bad;
    r->program = (struct sock_fprog){ .len = (unsigned short)instructions, .filter = r->bpf };
    s->seccomp = &r->program;
    s->landlock_mode = take_i32(&c);
    s->landlock_handled = take_u64(&c);
    s->landlock_handled_net = take_u64(&c);
    s->landlock_rule_count = take_count(&c);
    r->rules = items(s->landlock_rule_count, sizeof *r->rules);
    if (!r->rules) goto bad;
    for (size_t i = 0; i < s->landlock_rule_count && !c.bad; i++) {
        r->rules[i].path = take_str(&c);
        r->rules[i].access = take_u64(&c);
        r->rules[i].optional = take_i32(&c);
    }
    s->landlock_rules = r->rules;
    s->landlock_port_count = take_count(&c);
    r->ports = items(s->landlock_port_count, sizeof *r->ports);
    if (!r->ports) goto bad;
    for (size_t i = 0; i < s->landlock_port_count && !c.bad; i++) {
        r->ports[i].port = take_u64(&c);
        r->ports[i].access = take_u64(&c);
    }
    s->landlock_ports = r->ports;
    r->audit_count = take_count(&c);
    r->audit = items(r->audit_count, sizeof *r->audit);
    r->audit_rules = items(r->audit_count, sizeof *r->audit_rules);
    if (!r->audit || !r->audit_rules) goto bad;
    for (size_t i = 0; i < r->audit_count && !c.bad; i++) {
        take(&c, &r->audit[i].rule, sizeof r->audit[i].rule);
        r->audit_rules[i] = r->audit[i].rule;
        r->audit[i].syscall = take_str(&c);
        r->audit[i].errno_name = take_str(&c);
        r->audit[i].expected = take_ostr(&c);
    }
    if (c.bad || c.at != c.end) goto bad;
    // Filled at launch: descriptors, pids, argument areas, capabilities.
    s->sync_fd = s->sync_write_fd = s->report_fd = s->usage_fd = s->console_fd = -1;
    s->control_fd = s->audit_fd = -1;
    return r;
bad:
    lpa_record_free(r);
    return NULL;
}

const struct lpa_spec *lpa_record_spec(const struct lpa_record *r) { return &r->spec; }

size_t lpa_record_audit_rule_count(const struct lpa_record *r) { return r->audit_count; }

const struct lpa_record_audit_rule *lpa_record_audit_rules(const struct lpa_record *r) { return r->audit; }

const struct lpa_audit_rule *lpa_record_audit_c_rules(const struct lpa_record *r) { return r->audit_rules; }

int lpa_record_quiet(const struct lpa_record *r) { return r->quiet; }

// ---- Checks of a hit ----

// The whole of a procfs file (malloc'd, NUL-terminated), or NULL.
static char *read_proc(const char *path, size_t *length) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct lpa_bytes b = { 0 };
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            b.failed = 1;
            break;
        }
        if (n == 0) break;
        put(&b, chunk, (size_t)n);
        if (b.length > (64u << 20)) b.failed = 1;
        if (b.failed) break;
    }
    close(fd);
    put(&b, "", 1);
    if (b.failed) {
        lpa_bytes_free(&b);
        return NULL;
    }
    *length = b.length - 1;
    return (char *)b.data;
}

static int is_within(const char *path, size_t length, const char *base) {
    size_t n = strlen(base);
    if (n == 1 && base[0] == '/') return 1;
    return length >= n && memcmp(path, base, n) == 0 && (length == n || path[n] == '/');
}

// A unix socket listed in a procfs table lies beneath a bind source (UnixSocketSearch's
// first two searches, in the same way: the field as bytes, octal escapes undone for
// mountinfo). 1 when one does (or the table cannot be read), else 0.
static int socket_under_bases(const struct lpa_record *r, const char *table, int skip, int header, int to_space,
                              int unescape) {
    size_t length;
    char *text = read_proc(table, &length);
    if (!text) return 1;
    int found = 0;
    char field[4096 + 1];
    char *line = text;
    if (header) {
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : text + length;
    }
    while (*line && !found) {
        char *nl = strchr(line, '\n');
        char *end = nl ? nl : text + length;
        char *p = line;
        int skipped = 0;
        while (p < end && skipped < skip) {
            while (p < end && *p == ' ') p++;
            while (p < end && *p != ' ') p++;
            skipped++;
        }
        while (p < end && *p == ' ') p++;
        if (skipped == skip && p < end && *p == '/') {
            size_t n = 0;
            while (p < end && !(to_space && *p == ' ') && n < sizeof field - 1) {
                if (unescape && *p == '\\' && end - p > 3 && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
                    p[3] >= '0' && p[3] <= '7') {
                    field[n++] = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
                    p += 4;
                } else {
                    field[n++] = *p++;
                }
            }
            field[n] = 0;
            for (size_t i = 0; i < r->base_count && !found; i++) {
                if (!is_within(field, n, r->bases[i])) continue;
                struct stat st;
                if (lstat(field, &st) == 0 && S_ISSOCK(st.st_mode)) found = 1;
            }
        }
        line = nl ? nl + 1 : end;
    }
    free(text);
    return found;
}

int lpa_record_holds(const struct lpa_record *r) {
    for (size_t i = 0; i < r->manifest_count; i++) {
        struct lpa_fingerprint now;
        lpa_fingerprint_take(r->manifest[i].path, r->manifest[i].how, INT64_MAX, &now);
        if (!lpa_fingerprint_same(&now, &r->manifest[i].print, r->manifest[i].how)) return -1;
    }
    if (r->base_count) {
        // "Num RefCount Protocol Flags Type St Inode Path"; mountinfo field 5.
        if (socket_under_bases(r, "/proc/net/unix", 7, 1, 0, 0)) return -1;
        if (socket_under_bases(r, "/proc/self/mountinfo", 4, 0, 1, 1)) return -1;
    }
    if (r->requires_no_swap) {
        size_t length;
        char *swaps = read_proc("/proc/swaps", &length);
        if (!swaps) return -1;
        char *nl = strchr(swaps, '\n');
        int active = nl && nl[1] != 0;
        free(swaps);
        if (active) return -1;
    }
    return 0;
}

// ---- The fast path ----

void lpa_argument_areas(struct lpa_spec *spec) {
    size_t length;
    char *stat = read_proc("/proc/self/stat", &length);
    if (!stat) return;
    char *close = strrchr(stat, ')');
    unsigned long long fields[64];
    int count = 0;
    if (close) {
        char *p = close + 1;
        while (*p && count < 64) {
            while (*p == ' ') p++;
            if (!*p || *p == '\n') break;
            char *end;
            unsigned long long v = strtoull(p, &end, 10);
            fields[count++] = end == p ? ~0ULL : v;
            while (*end && *end != ' ') end++;
            p = end;
        }
    }
    free(stat);
    // After ")": field 3 is index 0, so fields 48-51 are 45-48.
    if (count < 49) return;
    unsigned long long arg_start = fields[45], arg_end = fields[46], env_start = fields[47], env_end = fields[48];
    if (arg_start == ~0ULL || arg_end == ~0ULL || env_start == ~0ULL || env_end == ~0ULL || arg_end < arg_start ||
        env_end < env_start)
        return;
    spec->arg_area = (char *)(uintptr_t)arg_start;
    spec->arg_area_len = (size_t)(arg_end - arg_start);
    spec->env_area = (char *)(uintptr_t)env_start;
    spec->env_area_len = (size_t)(env_end - env_start);
}

int lpa_record_directory(void) {
    const char *off = getenv("LPA_START_CACHE");
    if (off && strcmp(off, "off") == 0) return -1;
    char path[PATH_MAX];
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/') n = snprintf(path, sizeof path, "%s/lpa-run", xdg);
    else if (home && home[0] == '/') n = snprintf(path, sizeof path, "%s/.cache/lpa-run", home);
    else return -1;
    if (n < 0 || (size_t)n >= sizeof path) return -1;
    // Stricter than CacheDirectory (which also follows the caller's own links): a miss
    // here only means the Swift path.
    int fd = lpa_open_trusted_path(path, NULL);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
        close(fd);
        return -1;
    }
    return fd;
}

// This process's record, read and decoded; NULL when there is none or it is unusable.
static struct lpa_record *load_record(int directory) {
    const char *name = lpa_record_name();
    if (!name) return NULL;
    int fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    struct lpa_record *record = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 077) == 0 &&
        st.st_size > 0 && st.st_size <= LPA_RECORD_MAX_BYTES) {
        uint8_t *bytes = malloc((size_t)st.st_size);
        size_t got = 0;
        while (bytes && got < (size_t)st.st_size) {
            ssize_t n = read(fd, bytes + got, (size_t)st.st_size - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (bytes && got == (size_t)st.st_size) record = lpa_record_decode(bytes, got);
        free(bytes);
    }
    close(fd);
    return record;
}

static void close_ops(struct lpa_record *r) {
    for (size_t i = 0; i < r->spec.fs_op_count; i++) {
        if (r->ops[i].fd >= 0) close(r->ops[i].fd);
        r->ops[i].fd = -1;
    }
}

// The host-side steps of each mount op; -1 when one fails (the Swift path then
// redoes them and words the error).
static int host_steps(struct lpa_record *r) {
    for (size_t i = 0; i < r->spec.fs_op_count; i++) {
        const struct lpa_host_step *h = &r->host[i];
        int fd = -1;
        if (h->kind == LPA_HOST_OPEN_SOURCE) fd = lpa_open_trusted_path(h->path, NULL);
        else if (h->kind == LPA_HOST_TMPFS)
            fd = lpa_launch_host_tmpfs(h->mode, h->size, 1, h->attrs, r->outside_uid, r->outside_gid, NULL);
        else continue;
        if (fd < 0) {
            close_ops(r);
            return -1;
        }
        r->ops[i].fd = fd;
    }
    return 0;
}

static cap_t capability_sets(const struct lpa_record *r) {
    cap_t caps = cap_init();
    if (!caps || r->spec.keep_cap_count == 0) return caps;
    cap_value_t values[64];
    if (r->spec.keep_cap_count > 64) {
        cap_free(caps);
        return NULL;
    }
    for (size_t i = 0; i < r->spec.keep_cap_count; i++) values[i] = r->spec.keep_caps[i];
    cap_flag_t flags[] = { CAP_PERMITTED, CAP_EFFECTIVE, CAP_INHERITABLE };
    for (size_t f = 0; f < 3; f++) {
        if (cap_set_flag(caps, flags[f], (int)r->spec.keep_cap_count, values, CAP_SET) != 0) {
            cap_free(caps);
            return NULL;
        }
    }
    return caps;
}


struct lpa_record *lpa_record_find(void) {
    if (!lpa_record_key()) {
        trace("miss: no key");
        return NULL;
    }
    int directory = lpa_record_directory();
    if (directory < 0) {
        trace("miss: no cache directory");
        return NULL;
    }
    struct lpa_record *r = load_record(directory);
    close(directory);
    if (!r) {
        trace("miss: no record");
        return NULL;
    }
    // Checked while the sandbox is cloned (lpa_record_launch): the init waits for its
    // start byte before it touches anything, and is killed if the record no longer holds.
    check_start(r);
    return r;
}

// The record no longer describes a launch that works here.
static void remove_record(void) {
    int directory = lpa_record_directory();
    if (directory < 0) return;
    unlinkat(directory, lpa_record_name(), 0);
    close(directory);
}

enum lpa_record_result lpa_record_launch(struct lpa_record *r, struct lpa_audit_spec *audit,
                                         const struct lpa_dns_spec *dns, struct lpa_record_outcome *outcome) {
    memset(outcome, 0, sizeof *outcome);
    outcome->quiet = r->quiet;
    struct lpa_spec *s = &r->spec;
    struct lpa_launch launch;
    int control[2] = { -1, -1 };
    cap_t caps = NULL;
    int listener = -1;
    int channel[2] = { -1, -1 };
    int audit_sandbox_fd, audit_launcher_fd;
    struct sigaction saved[16];
    enum lpa_record_result result = LPA_RECORD_MISS;
    if (r->audit_count == 0) audit = NULL;
    if (audit && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) goto miss;
    audit_sandbox_fd = channel[1];
    audit_launcher_fd = channel[0];
    if (lpa_launch_drop_groups(NULL) != 0 || host_steps(r) != 0) {
        trace("miss: a host-side step failed");
        goto miss;
    }
    caps = capability_sets(r);
    if (!caps) goto miss;
    s->caps = caps;
    if (s->dns_sink && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, control) != 0) goto miss;
    s->control_fd = control[1];
    s->audit_fd = audit_sandbox_fd;
    lpa_argument_areas(s);
    int spawned = lpa_launch_spawn(s, 0, &launch, NULL);
    // The init holds its own copies now (or there is no init).
    if (control[1] >= 0) close(control[1]);
    control[1] = -1;
    if (audit_sandbox_fd >= 0) close(audit_sandbox_fd);
    audit_sandbox_fd = channel[1] = -1;
    if (spawned != 0) {
        trace("miss: clone failed");
        goto miss;
    }
    if (check_result(r) != 0) {
        // Nothing ran: the init was still waiting for its id maps and start byte.
        trace("miss: the host changed");
        lpa_launch_kill(&launch);
        lpa_launch_release(&launch);
        goto miss;
    }
    // What the stopping and forwarded signals did before lpa_launch_start takes them
    // over: a miss from here on gives them back (a background job's ignored SIGINT
    // stays ignored while the Swift path compiles, as without a record).
    for (size_t i = 0; i < lpa_forwarded_signal_count && i < sizeof saved / sizeof saved[0]; i++)
        sigaction(lpa_forwarded_signals[i], NULL, &saved[i]);
    if (lpa_launch_start(&launch, r->inside_uid, r->outside_uid, r->inside_gid, r->outside_gid, NULL) != 0) {
        lpa_launch_release(&launch);
        goto miss_after_start;
    }
    struct lpa_report report;
    int signal = 0;
    switch (lpa_launch_await_setup(&launch, &report, &signal)) {
    case LPA_SETUP_FAILED:
        // The host changed in a way the manifest cannot see (or the record is wrong):
        // nothing ran; drop the record and let the Swift path run and explain, unless
        // the caller asked the run to stop meanwhile.
        lpa_launch_wait(&launch);
        lpa_launch_release(&launch);
        remove_record();
        trace("miss: the sandbox's setup failed; record removed");
        if (signal == 0) goto miss_after_start;
        outcome->signal = signal;
        result = LPA_RECORD_INTERRUPTED;
        goto done;
    case LPA_SETUP_INTERRUPTED:
        lpa_launch_wait(&launch);
        lpa_launch_release(&launch);
        outcome->signal = signal;
        result = LPA_RECORD_INTERRUPTED;
        goto done;
    case LPA_SETUP_STARTED:
        trace("hit");
        break;
    }
    close_ops(r);
    if (audit) {
        // The workload sent its listener just before execve, which has succeeded.
        listener = lpa_audit_receive_listener(audit_launcher_fd);
        if (listener < 0) {
            int err = errno;
            // A stopping signal forwarded at the end of setup may end the workload
            // before it hands over its listener: the run stopping as asked (128+N).
            lpa_launch_kill(&launch);
            lpa_launch_release(&launch);
            int stop = lpa_launcher_interruption();
            if (stop) {
                outcome->status = 128 + stop;
                result = LPA_RECORD_RAN;
                goto done;
            }
            outcome->err = err;
            outcome->step = "audit: receive the seccomp listener";
            result = LPA_RECORD_FAILED;
            goto done;
        }
        audit->listener = listener;
    }
    // As the Swift launcher does when it turns to supervising (shed.c says why).
    lpa_shed_startup_pages_later(1000);
    if (s->dns_sink || audit) {
        struct lpa_relay_stats stats = { 0 };
        struct lpa_relay_spec relay = { .control_fd = control[0], .init_pidfd = launch.pidfd, .stats = &stats,
                                        .audit = audit, .dns = s->dns_sink ? dns : NULL };
        if (lpa_relay_run(&relay) != 0) {
            outcome->err = errno;
            outcome->step = "relay";
            lpa_launch_kill(&launch);
            lpa_launch_release(&launch);
            result = LPA_RECORD_FAILED;
            goto done;
        }
    }
    outcome->status = lpa_launch_wait(&launch);
    outcome->has_tmpfs_bytes = lpa_launch_tmpfs_usage(&launch, &outcome->tmpfs_bytes) == 0;
    lpa_launch_release(&launch);
    result = LPA_RECORD_RAN;
    goto done;
miss_after_start:
    // The launcher's handlers would otherwise keep catching the stopping signals while
    // the Swift path compiles (it installs them again at its own start).
    for (size_t i = 0; i < lpa_forwarded_signal_count && i < sizeof saved / sizeof saved[0]; i++)
        sigaction(lpa_forwarded_signals[i], &saved[i], NULL);
miss:
    result = LPA_RECORD_MISS;
done:
    close_ops(r);
    for (int i = 0; i < 2; i++)
        if (control[i] >= 0) close(control[i]);
    for (int i = 0; i < 2; i++)
        if (channel[i] >= 0) close(channel[i]);
    if (listener >= 0) close(listener);
    if (audit) audit->listener = -1;
    if (caps) cap_free(caps);
    return result;
}
