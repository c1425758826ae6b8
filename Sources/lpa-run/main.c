// lpa-run, the command people run: a small C program in front of lpa-run-core (Swift).
//
// A command line run before, unchanged, in the same environment, is launched from its
// launch record (CLaunch record.c) by the one executor (launch.c, the window, relay.c);
// anything else (a miss, a subcommand, a record that no longer holds) execs the core
// with the same argv and environment, which compiles, launches through the same
// executor and writes the record. The front exists for start-up: it has no Swift
// runtime, libdispatch or crypto tables to load and relocate (about 1 ms of every start
// of the core's static PIE; issue 16, docs/BENCHMARKS.md).
//
// The front never words a report: when a launch from a record has something to say (a
// refused call the plan does not expect, a DNS question, an error), it starts the core
// as its reporter and streams what happened to it (report.c); the core formats the exit
// report exactly as after a compiled run. A run with nothing to report starts no
// reporter and prints nothing, as the core would.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lpa_launch.h"
#include "lpa_record.h"
#include "lpa_report.h"

extern char **environ;

static char **arguments;

// Executes the core through the descriptor of the file that was checked (record.c
// `trusted_open`), never by path again.
static void execute_core(int core, char **argv) {
    syscall(SYS_execveat, core, "", argv, environ, AT_EMPTY_PATH);
}

// Replaces this process with the core: a miss, a subcommand, or no record at all.
static _Noreturn void exec_core(void) {
    int core = lpa_core_fd();
    if (core >= 0) execute_core(core, arguments);
    int err = core >= 0 ? errno : ENOENT;
    fprintf(stderr,
            "lpa-run: error: cannot run %s (looked beside lpa-run and in ../libexec/lpa-run/): %s\n"
            "  hint: it must be a regular file owned by root or by lpa-run's owner, reached through\n"
            "  directories no one else may write to; `make install` puts both executables in place\n",
            LPA_CORE_NAME, strerror(err));
    _exit(125);
}

// The reporter: the core, started on the first thing worth reporting. Until it runs,
// the stream spools (report.c): a workload that holds every process or descriptor the
// caller may have cannot keep its refusals out of the report, since it gives them back
// when it ends and the reporter is started then at the latest.
static struct {
    const struct lpa_record *record;
    int quiet;
    int begun;          // the rules are in the stream: everything from now on is sent
    pid_t pid;          // 0: not started
    int start_errno;    // why it could not be started, the last time it was tried
    int traced_wait;
    struct lpa_report_stream stream;
} reporter = { .stream = { .fd = -1 } };

// Starts the reporter and connects the stream to it; 0 once it runs.
static int reporter_connect(void) {
    if (reporter.stream.fd >= 0) return 0;
    if (reporter.stream.fd == -2) return -1;
    int core = lpa_core_fd();
    int pair[2];
    if (core < 0) {
        reporter.start_errno = ENOENT;
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        reporter.start_errno = errno;
        if (!reporter.traced_wait) lpa_report_trace("no descriptors yet; spooling");
        reporter.traced_wait = 1;
        return -1;
    }
    // Started with fd 0 closed, the reporter's end could be fd 0 itself, which the dup2
    // below would then leave close-on-exec: keep both ends above 2.
    for (int i = 0; i < 2; i++) {
        if (pair[i] > 2) continue;
        int moved = fcntl(pair[i], F_DUPFD_CLOEXEC, 3);
        if (moved < 0) reporter.start_errno = errno;
        close(pair[i]);
        pair[i] = moved;
    }
    if (pair[0] < 0 || pair[1] < 0) {
        if (pair[0] >= 0) close(pair[0]);
        if (pair[1] >= 0) close(pair[1]);
        return -1;
    }
    // A ^C at the terminal reaches the whole process group: the reporter must outlive it
    // to report the interrupted run (it leaves when the stream ends), so the forwarded
    // signals are blocked in it and every other disposition is the default.
    sigset_t blocked, saved;
    sigemptyset(&blocked);
    for (size_t i = 0; i < lpa_forwarded_signal_count; i++) sigaddset(&blocked, lpa_forwarded_signals[i]);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &saved);
    pid_t pid = fork();
    if (pid == 0) {
        // The child: only async-signal-safe calls until execveat.
        for (int sig = 1; sig < NSIG; sig++) {
            if (sig == SIGKILL || sig == SIGSTOP) continue;
            struct sigaction dfl = { .sa_handler = SIG_DFL };
            sigaction(sig, &dfl, NULL);
        }
        if (dup2(pair[1], 0) == 0) {
            sigprocmask(SIG_SETMASK, &blocked, NULL);
            char *argv[] = { "lpa-run", LPA_REPORTER_ARGUMENT, NULL };
            execute_core(core, argv);
        }
        _exit(127);
    }
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &saved, NULL);
    close(pair[1]);
    if (pid < 0) {
        if (!reporter.traced_wait) lpa_report_trace("cannot start a process yet; spooling");
        reporter.traced_wait = 1;
        reporter.start_errno = fork_errno;
        close(pair[0]);
        return -1;
    }
    reporter.pid = pid;
    if (lpa_report_connect(&reporter.stream, pair[0]) != 0) {
        reporter.start_errno = errno;
        return -1;
    }
    lpa_report_trace("started");
    return 0;
}

// Puts the rules (and the expected refusals counted so far) first in the stream.
static void reporter_begin(void) {
    if (reporter.begun) return;
    reporter.begun = 1;
    if (lpa_report_send_rules(&reporter.stream, reporter.record) == 0) lpa_report_send_uncounted(&reporter.stream);
    reporter_connect();
}

static int64_t monotonic_ns(void);

// While the reporter cannot start, a flood of events retries at most every 50 ms (each
// try costs a socket pair and a fork); the end of the run tries once more regardless.
static void reporter_retry(void) {
    static int64_t next_try;
    if (reporter.stream.fd != -1) return;
    int64_t now = monotonic_ns();
    if (now < next_try) return;
    next_try = now + 50 * 1000000LL;
    reporter_connect();
}

// audit.c's sink, after it answered a refused call.
static void on_refused(const struct lpa_audit_record *call, void *context) {
    (void)context;
    if (reporter.quiet || call->rule >= reporter.stream.rule_count) return;
    const struct lpa_record_audit_rule *rule = &lpa_record_audit_rules(reporter.record)[call->rule];
    // Expected refusals (glibc's clone3 -> clone) are reported only beside one that
    // is not: count them until then.
    if (rule->expected && !reporter.begun) {
        reporter.stream.uncounted[call->rule]++;
        return;
    }
    reporter_begin();
    reporter_retry();
    lpa_report_send_audit(&reporter.stream, call);
}

// dns.c's sink, after it answered a question (NXDOMAIN).
static void on_question(const uint8_t *name, size_t length, uint16_t type, int tcp, void *context) {
    (void)context;
    if (reporter.quiet) return;
    reporter_begin();
    reporter_retry();
    lpa_report_send_dns(&reporter.stream, name, length, type, tcp);
}

static int64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int main(int argc, char **argv) {
    arguments = argv;
    // The reporter's word is the core's, and only from a front: a wrapper passing an
    // untrusted word as the command must not reach it through this front.
    if (argc >= 2 && strcmp(argv[1], LPA_REPORTER_ARGUMENT) == 0) {
        fprintf(stderr, "lpa-run: error: %s is lpa-run's own (its reporter's); it is not an option\n",
                LPA_REPORTER_ARGUMENT);
        return 125;
    }
    int64_t started = monotonic_ns();
    struct lpa_record *record = lpa_record_find();
    if (!record) exec_core();
    reporter.record = record;
    reporter.quiet = lpa_record_quiet(record);
    size_t rules = lpa_record_audit_rule_count(record);
    reporter.stream.rule_count = rules;
    reporter.stream.rules = lpa_record_audit_c_rules(record);
    reporter.stream.uncounted = calloc(rules ? rules : 1, sizeof *reporter.stream.uncounted);
    reporter.stream.detailed = calloc(rules ? rules : 1, sizeof *reporter.stream.detailed);
    if (!reporter.stream.uncounted || !reporter.stream.detailed) exec_core();

    struct lpa_audit_spec audit = { 0 };
    audit.listener = -1;
    audit.rules = lpa_record_audit_c_rules(record);
    audit.rule_count = rules;
    audit.sink = on_refused;
    struct lpa_dns_stats dns_stats = { 0 };
    struct lpa_dns_spec dns = { .sink = on_question, .stats = &dns_stats };
    struct lpa_record_outcome outcome;
    enum lpa_record_result result = lpa_record_launch(record, &audit, &dns, &outcome);
    if (result == LPA_RECORD_MISS) {
        // Nothing ran and nothing was reported.
        if (reporter.stream.fd >= 0) close(reporter.stream.fd);
        exec_core();
    }
    // The usual end: the workload ran and there is nothing to tell.
    if (result == LPA_RECORD_RAN && !reporter.begun) _exit(outcome.status);

    struct lpa_report_end end = {
        .result = (int32_t)result, .status = outcome.status, .signal = outcome.signal, .quiet = outcome.quiet,
        .has_tmpfs_bytes = outcome.has_tmpfs_bytes, .err = outcome.err, .tmpfs_bytes = outcome.tmpfs_bytes,
        .started_ns = started, .dns_sink = lpa_record_spec(record)->dns_sink != 0, .dns = dns_stats,
        .dns_unsent = reporter.stream.dns_unsent,
    };
    // What the run comes to without a report: its status, 128+N, or the launcher's 125.
    int fallback = result == LPA_RECORD_RAN ? outcome.status
        : result == LPA_RECORD_INTERRUPTED ? 128 + outcome.signal : 125;
    // The sandbox is gone: what its workload held is free again for the reporter.
    reporter_begin();
    if (reporter_connect() != 0 || lpa_report_send_uncounted(&reporter.stream) != 0 ||
        lpa_report_send_end(&reporter.stream, &end, outcome.step) != 0) {
        int err = reporter.stream.fd == -2 ? EPIPE : reporter.start_errno;
        const char *name = strerrorname_np(err);
        fprintf(stderr, "lpa-run: warning: the exit report could not be made (%s: %s)\n",
                name ? name : "?", strerror(err));
        _exit(fallback);
    }
    close(reporter.stream.fd);
    int raw;
    while (waitpid(reporter.pid, &raw, 0) < 0) {
        if (errno != EINTR) _exit(fallback);
    }
    // The reporter exits with the run's status once it has printed the report; killed
    // (SIGPIPE on a closed stderr, as the core itself would be), its signal's status.
    _exit(WIFEXITED(raw) ? WEXITSTATUS(raw) : WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : fallback);
}
