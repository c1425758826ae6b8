// The post-clone window of lpa-run (window.c).
//
// Everything here runs in a child of a (possibly multithreaded) Swift process,
// between clone() and execve(). Rules: raw system calls, stack buffers, and the few
// libcap calls that are plain prctl/capset wrappers; no allocation, no stdio, no
// locks, no Swift. The Swift side builds every string, array and the seccomp BPF
// program before calling lpa_spawn. A test (LPALauncherTests/WindowSymbolTests)
// checks the object files for allocator, stdio and lock symbols.
#ifndef LPA_WINDOW_H
#define LPA_WINDOW_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/filter.h>

#ifdef __cplusplus
extern "C" {
#endif

// One low-level filesystem step, already expanded from the plan by the Swift side.
// Paths: `source` is relative to the old root (the host), `target` to the new root.
// Targets are resolved beneath the new root one component at a time, never through a
// symbolic link (ELOOP) and never opened for reading or writing: a directory the
// sandbox could write in an earlier run may hold links, FIFOs or devices planted there.
// Mounts are attached to O_PATH descriptors of their targets (move_mount).
enum lpa_fs_op_kind {
    LPA_FS_MKDIR = 1,    // mkdir -p target (mode)
    LPA_FS_TMPFS,        // mount tmpfs on target (data = options), flags = MS_*
    LPA_FS_ATTACH,       // move_mount a detached mount (fd, made on the host side) onto target
    LPA_FS_BIND,         // bind source onto target (recursive), then apply attr_set recursively
    LPA_FS_PROC,         // mount a fresh proc on target
    LPA_FS_DEVPTS,       // mount a new devpts instance on target
    LPA_FS_SYMLINK,      // symlink(source, target); source is the link text
    LPA_FS_RDONLY_SELF,  // bind target onto itself read-only (proc/sys, sysrq-trigger...)
    LPA_FS_FILE,         // a file holding `data` (made on the setup tmpfs), bound read-only onto
                         // target; a target that is a symbolic link is covered, never followed
};

struct lpa_fs_op {
    int32_t kind;
    int32_t plan_index;        // index of the MountEntry it came from, -1 for skeleton steps
    const char *source;
    const char *target;
    const char *data;          // tmpfs mount data
    unsigned long flags;       // MS_* for mount(2)
    uint64_t attr_set;         // MOUNT_ATTR_* applied recursively after a bind
    uint32_t mode;             // for MKDIR
    int32_t target_is_file;    // create an empty file (not a dir) as the mount point
    int32_t optional;          // a missing source (ENOENT) is skipped
    int32_t fd;                // ATTACH: the detached mount; BIND: the verified file (or -1)
};

// One Landlock rule (LANDLOCK_RULE_PATH_BENEATH): `access` (LANDLOCK_ACCESS_FS_* bits)
// beneath `path`, absolute inside the new root. The window masks the rights to the
// kernel's ABI, and to the file rights when the path is not a directory.
struct lpa_landlock_rule {
    const char *path;
    uint64_t access;
    int32_t optional;          // a missing path (ENOENT) is skipped
};

// One Landlock TCP port rule (LANDLOCK_RULE_NET_PORT, ABI 4): `access` is
// LANDLOCK_ACCESS_NET_BIND_TCP (1) and/or LANDLOCK_ACCESS_NET_CONNECT_TCP (2).
struct lpa_landlock_port {
    uint64_t port;
    uint64_t access;
};

struct lpa_rlimit {
    int32_t resource;
    uint64_t soft;
    uint64_t hard;
};

// Why the child stopped before execve: written on the report pipe, read by the parent.
enum lpa_step {
    LPA_STEP_NONE = 0,
    LPA_STEP_WAIT_PARENT,
    LPA_STEP_SETHOSTNAME,
    LPA_STEP_LOOPBACK,
    LPA_STEP_MAKE_PRIVATE,
    LPA_STEP_ROOT_TMPFS,
    LPA_STEP_PIVOT_ROOT,
    LPA_STEP_FS_OP,
    LPA_STEP_DETACH_OLD_ROOT,
    LPA_STEP_CHDIR,
    LPA_STEP_FORK_WORKLOAD,
    LPA_STEP_SIGNALS,
    LPA_STEP_CLOSE_FDS,
    LPA_STEP_RLIMIT,
    LPA_STEP_CAPS_BOUNDING,
    LPA_STEP_CAPS_AMBIENT,
    LPA_STEP_CAPS_SET,
    LPA_STEP_NO_NEW_PRIVS,
    LPA_STEP_SECCOMP,
    LPA_STEP_EXECVE,
    LPA_STEP_CONNECT_LISTEN,      // index: which connect port
    LPA_STEP_CONTROL,
    LPA_STEP_AUDIT,
    LPA_STEP_SETSID,              // a session of its own (init, workload)
    LPA_STEP_TERMINAL,            // the relayed pseudo-terminal
    LPA_STEP_LANDLOCK,            // Landlock scopes (signals, abstract unix sockets)
    LPA_STEP_INIT_FILTER,         // the init's confinement: not dumpable, no_new_privs, seccomp
    LPA_STEP_SET_IDS,             // become the sandbox user (setresuid/setresgid)
    LPA_STEP_LANDLOCK_RULES,      // the Landlock filesystem ruleset (index: which rule)
    LPA_STEP_DNS_LISTEN,          // the DNS sink's sockets on 127.0.0.1:53 inside
};

// The init -> launcher message on console_fd: this tag, with the pty's master.
enum { LPA_TERMINAL_HANDOVER_TAG = 0x7474 };
struct lpa_terminal_handover {
    uint32_t tag;
};

struct lpa_report {
    int32_t step;
    int32_t index;   // fs op index or rlimit index, -1 otherwise
    int32_t err;     // errno
};

struct lpa_spec {
    unsigned long clone_flags;     // CLONE_NEW*
    int32_t new_pid_ns;            // init is pid 1 when set
    int32_t new_net_ns;            // bring lo up
    const char *hostname;          // NULL: leave as is (no UTS namespace)

    const struct lpa_fs_op *fs_ops;
    size_t fs_op_count;
    const char *workdir;           // inside the new root

    const char *exec_path;
    char *const *argv;
    char *const *envp;

    const struct lpa_rlimit *rlimits;
    size_t rlimit_count;

    void *caps;                    // cap_t with the kept capabilities (all sets)
    const int32_t *keep_caps;      // also raised in the ambient set
    size_t keep_cap_count;
    int32_t last_cap;              // highest capability number the kernel knows

    const struct sock_fprog *seccomp; // NULL: no filter (never for a real plan)

    // Landlock, applied by the workload after no_new_privs and before seccomp, in one
    // ruleset with the scopes: mode 0 off (scopes only), 1 best-effort (skipped without
    // Landlock), 2 required (no Landlock fails the step). `landlock_handled`: the rights
    // the ruleset denies unless a rule grants them (masked to the kernel's ABI).
    int32_t landlock_mode;
    uint64_t landlock_handled;
    const struct lpa_landlock_rule *landlock_rules;
    size_t landlock_rule_count;
    // The TCP directions the ruleset handles (LANDLOCK_ACCESS_NET_*, dropped below ABI
    // 4) and the ports it allows; a failing port rule reports LPA_STEP_LANDLOCK_RULES
    // with index landlock_rule_count + its index.
    uint64_t landlock_handled_net;
    const struct lpa_landlock_port *landlock_ports;
    size_t landlock_port_count;

    // The degraded mode (--isolation landlock, lpa_degraded_spawn): a second seccomp
    // filter the workload loads before `seccomp` (NULL: none), and whether the child
    // must first become uid/gid without supplementary groups (lpa-run runs as root).
    // `caps` NULL: the workload leaves its capabilities alone (there are none to drop).
    const struct sock_fprog *extra_seccomp;
    int32_t degraded_set_ids;

    // The sandbox user's ids inside the user namespace, taken once the maps are written:
    // a root caller's clone starts as host root (unmapped there) and must not stay it.
    uint32_t uid;
    uint32_t gid;

    int sync_fd;                   // child reads one byte: id maps are written
    int sync_write_fd;             // the launcher's end: the child closes its copy first, so
                                   // a launcher that dies before PDEATHSIG is armed reads as EOF
    pid_t launcher_pid;            // without a new pid namespace, getppid() must still be this
    int report_fd;                 // child writes lpa_report on failure (CLOEXEC)

    // lpa-run's argv and environment strings (the kernel's arg_start..arg_end and
    // env_start..env_end), cleared in the init's copy of memory: /proc/1/cmdline is
    // readable inside, and lpa-run's argv may hold --env NAME=VALUE. NULL: nothing.
    char *arg_area;
    size_t arg_area_len;
    char *env_area;
    size_t env_area_len;

    // Terminal relay: when console_fd >= 0, the init opens a pseudo-terminal in the
    // sandbox's own devpts (/dev/pts/ptmx), applies termios (struct termios) and winsize
    // (struct winsize) when not NULL, sends the master on console_fd (struct
    // lpa_terminal_handover) and the workload gets the slave on each fd of tty_fd_mask
    // (bit N: fd N), as its controlling terminal.
    int console_fd;
    uint32_t tty_fd_mask;
    const void *termios;
    const void *winsize;
    // The caller's stdin is a terminal that is not relayed: the workload reads /dev/null.
    int32_t null_stdin;

    // Relays: control_fd is the init's end of a SOCK_SEQPACKET pair, or -1. Before
    // forking the workload the init listens on 127.0.0.1:connect_ports[i] inside the
    // sandbox and sends those listeners; afterwards it answers socket requests
    // (lpa_control.h, messages 1 and 2). The launcher's half is CSupervisor's relay.c.
    int control_fd;
    const uint16_t *connect_ports;
    size_t connect_port_count;
    // One per connect entry, or NULL: an entry that is not NULL is a unix-socket
    // endpoint, whose listener the init binds at that sandbox path (on a tmpfs of the
    // sandbox, parent directories made 0755) instead of 127.0.0.1:connect_ports[i].
    const char *const *connect_paths;
    // The DNS sink: the init binds 127.0.0.1:53 (UDP and TCP) inside and sends both
    // sockets after the connect listeners (lpa_control.h, message 4). Needs control_fd.
    int32_t dns_sink;

    // Audit: when >= 0, the workload loads its filter with a notification listener and
    // sends the listener here just before execve (lpa_control.h, message 3).
    int audit_fd;

    // When the workload has exited, the init writes here (uint64) the bytes its tmpfs
    // mounts hold: what the workload wrote and the sandbox discards. -1: not wanted.
    int usage_fd;
};

// The degraded mode (--isolation landlock): fork(2) a plain child, no namespaces, no
// init; it becomes the sandbox user when `degraded_set_ids`, moves to `workdir`, then
// takes the workload's own path (session, descriptors, rlimits, no_new_privs,
// Landlock, seccomp, execve). Returns the pid, -1 with errno on failure.
pid_t lpa_degraded_spawn(const struct lpa_spec *spec);

// clone()s the init with the requested namespaces. Returns its pid (host view),
// or -1 with errno set. In the child this never returns.
pid_t lpa_spawn(const struct lpa_spec *spec);

// Signals that the init forwards to the workload and the launcher to the init.
extern const int lpa_forwarded_signals[];
extern const size_t lpa_forwarded_signal_count;

// The launcher's handlers for lpa_forwarded_signals, from the start byte on: each is
// forwarded to the init through its pidfd (pidfd_send_signal: never a recycled pid),
// whatever sent it (the sandbox has its own session, so the terminal's signals reach
// only lpa-run). The init keeps them pending until the workload exists. While the
// sandbox is being set up, SIGINT, SIGTERM, SIGHUP and SIGQUIT are only remembered
// (forwarded when the setup is over), and the launcher stops a setup that does not
// finish soon after (see awaitSetup).
int lpa_launcher_signals_setup(int init_pidfd);

// The stopping signal received during setup, or 0.
int lpa_launcher_interruption(void);

// The setup is over: the stopping signal received during it (only recorded until now)
// is forwarded to the init, and stopping signals are only forwarded from now on.
// Returns that signal, or 0.
int lpa_launcher_signals_running(void);

// With a relayed terminal, SIGWINCH copies the window size of `from` (the caller's
// terminal) to the pty's `master`; the kernel then signals the pty's foreground group.
void lpa_launcher_relay_window_size(int from, int master);

#ifdef __cplusplus
}
#endif
#endif
