// The executor: the host-side steps of one launch, from a finished `lpa_spec` to the
// init's exit status (launch.c). The Swift launcher (SandboxProcess, MountSteps) calls
// these, and so does the launch record's fast path (record.c), so there is one copy of
// the launch logic: neither side creates pipes, clones, writes id maps, starts, waits
// for the setup or reaps any other way.
//
// Ordinary process (lpa-run before and after clone): may allocate, but the functions here
// do not need to. Errors come back as a `struct lpa_launch_error` naming the step (a
// static string) and the errno; the Swift side words the message and the hint.
#ifndef LPA_LAUNCH_H
#define LPA_LAUNCH_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "lpa_window.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lpa_launch_error {
    const char *step;   // what failed ("sync pipe", "clone namespaces", "user namespace: uid_map"...)
    int err;            // its errno
};

// One launch in progress, seen from lpa-run.
struct lpa_launch {
    pid_t pid;          // the init, as the host sees it (0: none)
    int pidfd;          // the init's pidfd: signals reach it through this, never a recycled pid
    int sync_fd;        // our end of the start pipe, until the start byte
    int report_fd;      // the setup report (lpa_report), EOF when the workload's execve succeeded
    int usage_fd;       // the tmpfs bytes the init writes when the workload has exited
    int console_fd;     // our end of the terminal socket, or -1
};

// What a bind source's walk stopped at: `lpa_open_trusted_path` returns -2 and fills it.
struct lpa_untrusted_link {
    char path[4096];    // the path as walked up to the link
    uid_t uid;          // its owner (not root)
};

// Opens `path` (O_PATH) one component at a time, following only links that root owns: a
// link the caller owns may have been planted by an earlier sandbox, and checking a path
// first and opening it later loses a race against a process that swaps a directory for
// such a link in between. The window then proves the mount it makes is this very object
// (device and inode). Returns the descriptor; -1 with errno; -2 at a link owned by
// someone else (`link` filled, errno ELOOP).
int lpa_open_trusted_path(const char *path, struct lpa_untrusted_link *link);

// A detached tmpfs made on the host side (noswap needs host root in the initial user
// namespace), owned by uid:gid. Returns the mount descriptor, or -1 with `error` filled.
int lpa_launch_host_tmpfs(uint32_t mode, uint64_t size, int noswap, uint64_t attrs, uid_t uid, gid_t gid,
                          struct lpa_launch_error *error);

// As root: drops lpa-run's own supplementary groups (with setgroups denied in the user
// namespace, nobody inside could drop gid 0). Nothing for other callers. 0 or -1.
int lpa_launch_drop_groups(struct lpa_launch_error *error);

// Makes the start, report and usage pipes (and the terminal socket when `want_console`),
// fills the spec's descriptors and launcher pid, clones the init (window.c lpa_spawn)
// and takes its pidfd. Returns 0; -1 with `error` filled and nothing left behind.
int lpa_launch_spawn(struct lpa_spec *spec, int want_console, struct lpa_launch *launch,
                     struct lpa_launch_error *error);

// Writes the id maps (one id each: inside -> outside), takes over the signals that stop
// or are forwarded (lpa_launcher_signals_setup), and sends the start byte. On failure the
// init is killed and reaped before it did anything; returns -1 with `error` filled.
int lpa_launch_start(struct lpa_launch *launch, uint32_t inside_uid, uint32_t outside_uid,
                     uint32_t inside_gid, uint32_t outside_gid, struct lpa_launch_error *error);

enum lpa_setup_outcome {
    LPA_SETUP_STARTED = 0,      // the workload's execve succeeded
    LPA_SETUP_FAILED = 1,       // a setup step failed: `report` holds it
    LPA_SETUP_INTERRUPTED = 2,  // a stopping signal came first and the init was killed
};

// Blocks until the workload's execve succeeded or a setup step failed. A stopping
// signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) is recorded and forwarded when the setup is
// over (the init may not have its handlers before), so it reaches the workload should it
// start; a setup not finished a second after it (a stuck mount, a stopped init) is
// killed: nothing runs. `*signal`: the stopping signal received during setup, or 0.
enum lpa_setup_outcome lpa_launch_await_setup(struct lpa_launch *launch, struct lpa_report *report,
                                              int *signal);

// Waits for the init: its exit status is the workload's, 128+N for a signal; 125 when
// it cannot be waited for.
int lpa_launch_wait(struct lpa_launch *launch);

// Kills the init through its pidfd and reaps it.
void lpa_launch_kill(struct lpa_launch *launch);

// What the workload left in the sandbox's tmpfs mounts (written by the init at exit).
// 0, or -1 when unknown.
int lpa_launch_tmpfs_usage(struct lpa_launch *launch, uint64_t *bytes);

// Closes every descriptor the launch still holds (not the pid: reap it first).
void lpa_launch_release(struct lpa_launch *launch);

// Decodes a waitpid(2) status as shells do: the exit code, or 128+N for signal N.
int lpa_exit_code(int wait_status);

#ifdef __cplusplus
}
#endif
#endif
