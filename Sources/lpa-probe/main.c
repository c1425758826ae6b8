// lpa-probe: runs inside a sandbox and reports what it can and cannot do.
//
// Written in C so it needs nothing but libc inside the sandbox. Every attempt is
// harmless when the call it tries is NOT blocked (a weak profile, or a probe started
// on the host by mistake): mount onto a missing path, reboot with a wrong magic,
// TIOCSTI on /dev/null, namespaces only in a forked child that exits at once, ...
// It refuses to run at all in the initial user namespace.
//
// Output: one "name result" line per check; result is "ok" or an errno name, or a
// value for status items. Commands:
//   lpa-probe syscalls              every escape-class attempt
//   lpa-probe status                capabilities, no_new_privs, seccomp, pids, fds, hostname, interfaces
//   lpa-probe env                   the environment, one NAME per line
//   lpa-probe connect-tcp HOST PORT | connect-abstract NAME
//   lpa-probe read PATH | write PATH | ls PATH
//   lpa-probe wait-signal           prints "ready", exits 0 on SIGTERM/SIGINT after printing it
//   lpa-probe echo-server PORT       echo on 127.0.0.1:PORT inside, prints "listening"
//   lpa-probe misbehave              connect out (only if lo is the sole interface), ptrace, mount
//   lpa-probe exit N | kill-self SIG
//   lpa-probe terminal               /dev/tty, session, terminal-ownership ioctls (on /dev/null)
//   lpa-probe kill-group SIG         kill(0, SIG) with SIG ignored here; kill(1, 0)
//   lpa-probe personality VALUE...  personality(VALUE) in a child each (0x hex or decimal)
//   lpa-probe socketpair FAMILY...   socketpair(FAMILY, SOCK_STREAM) for each family number
//   lpa-probe fanotify-init          fanotify_init(FAN_CLASS_NOTIF, O_RDONLY)
//   lpa-probe repeat-denied COUNT    kcmp(-1, ...) COUNT times (denied and audited by
//                                    strict); prints the last errno and the milliseconds taken
//   lpa-probe mount-named TEXT       mount onto /nonexistent-lpa-probe/TEXT: a refused call
//                                    whose logged path the caller chose
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e) {
    switch (e) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ENXIO: return "ENXIO";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ENOSYS: return "ENOSYS";
    case ENOTTY: return "ENOTTY";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENETUNREACH: return "ENETUNREACH";
    case EROFS: return "EROFS";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case ESRCH: return "ESRCH";
    case EEXIST: return "EEXIST";
    case ENOKEY: return "ENOKEY";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

static void report(const char *name, long rc) {
    printf("%s %s\n", name, rc < 0 ? errname(errno) : "ok");
}

// Runs fn in a forked child and reports what it returned (an errno, 0 for success);
// so a namespace created by a weak profile dies with the child.
static void in_child(const char *name, int (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(fn());
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) printf("%s killed-by-signal-%d\n", name, WTERMSIG(status));
    else printf("%s %s\n", name, errname(WEXITSTATUS(status)));
}

// syscall(nr) with every argument -1 (invalid pointers, descriptors, flags and magic
// numbers: harmless should the filter let it through), in a child; reports the errno.
static void numbered_syscall(const char *text) {
    long nr = strtol(text, NULL, 10);
    char name[48];
    snprintf(name, sizeof name, "nr-%ld", nr);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        long rc = syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L);
        _exit(rc < 0 ? (errno & 0xff) : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) printf("%s killed-by-signal-%d\n", name, WTERMSIG(status));
    else printf("%s %s\n", name, errname(WEXITSTATUS(status)));
}

static int try_unshare(void) { return unshare(CLONE_NEWUSER) == 0 ? 0 : errno; }
static int try_clone_newns(void) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0) _exit(0);
    if (pid < 0) return errno;
    waitpid((pid_t)pid, NULL, 0);
    return 0;
}
static int try_clone3(void) { return syscall(SYS_clone3, NULL, 0) == 0 ? 0 : errno; }
static int try_int80(void) {
#if defined(__x86_64__)
    long ret;
    // i386 getpid (20) through the 32-bit entry point: must not run at all.
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    return ret > 0 ? 0 : (int)-ret;
#else
    return ENOSYS;
#endif
}

static void syscalls(void) {
    // ptrace and process_vm_readv on our own child: harmless if allowed.
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    report("ptrace", ptrace(PTRACE_ATTACH, child, NULL, NULL));
    char buf[8], src[8] = "x";
    struct iovec local = {buf, sizeof buf}, remote = {src, sizeof src};
    report("process_vm_readv", process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);

    report("mount", mount("none", "/nonexistent-lpa-probe", "tmpfs", 0, NULL));
    report("umount2", umount2("/nonexistent-lpa-probe", 0));
    report("pivot_root", syscall(SYS_pivot_root, "/nonexistent-lpa-probe", "/nonexistent-lpa-probe"));
    in_child("unshare", try_unshare);
    in_child("clone-newuser", try_clone_newns);
    in_child("clone3", try_clone3);
    report("setns", syscall(SYS_setns, -1, 0));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    long ufd = syscall(SYS_userfaultfd, 0);
    report("userfaultfd", ufd);
    if (ufd >= 0) close((int)ufd);
    report("bpf", syscall(SYS_bpf, -1, NULL, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    report("keyctl", syscall(SYS_keyctl, 9999, 0, 0, 0, 0));
    report("add_key", syscall(SYS_add_key, NULL, NULL, NULL, 0, 0));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
    report("init_module", syscall(SYS_init_module, NULL, 0, NULL));
    report("finit_module", syscall(SYS_finit_module, -1, "", 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xdeadbeefUL));
    report("reboot", syscall(SYS_reboot, 0x1234, 0x5678, 0, NULL));  // wrong magic
    report("swapon", syscall(SYS_swapon, "/nonexistent-lpa-probe", 0));
    int s = socket(AF_NETLINK, SOCK_RAW, 0);
    report("socket-netlink", s);
    if (s >= 0) close(s);
    s = socket(AF_PACKET, SOCK_RAW, 0);
    report("socket-packet", s);
    if (s >= 0) close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    report("socket-inet", s);
    if (s >= 0) close(s);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    report("socket-unix", s);
    if (s >= 0) close(s);
    int null = open("/dev/null", O_RDONLY);
    char c = 'x';
    report("ioctl-tiocsti", syscall(SYS_ioctl, null, (unsigned long)TIOCSTI, &c));
    report("ioctl-tiocsti-highbits", syscall(SYS_ioctl, null, 0x100000000UL | TIOCSTI, &c));
    report("ioctl-tioclinux", syscall(SYS_ioctl, null, (unsigned long)TIOCLINUX, &c));
    close(null);
    in_child("int80", try_int80);
}

// Network interface names from /proc/net/dev (not if_nameindex(): that needs netlink,
// which strict denies). Returns the count, or -1 when it cannot be read.
static int interfaces(char names[][32], int max) {
    FILE *net = fopen("/proc/self/net/dev", "r");
    if (!net) return -1;
    char line[256];
    int lineno = 0, count = 0;
    while (fgets(line, sizeof line, net) && count < max) {
        if (++lineno <= 2) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        char *name = line;
        while (*name == ' ') name++;
        snprintf(names[count++], 32, "%s", name);
    }
    fclose(net);
    return count;
}

static void status(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapPrm:", 7) || !strncmp(line, "CapBnd:", 7) ||
            !strncmp(line, "CapAmb:", 7) || !strncmp(line, "CapInh:", 7) || !strncmp(line, "NoNewPrivs:", 11) ||
            !strncmp(line, "Seccomp:", 8)) {
            char *colon = strchr(line, ':');
            *colon = '\0';
            char *value = colon + 1;
            while (*value == ' ' || *value == '\t') value++;
            printf("%s %s", line, value);
        }
    }
    if (f) fclose(f);
    printf("pid %d\nppid %d\nuid %d\ngid %d\n", getpid(), getppid(), getuid(), getgid());
    int procs = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) if (e->d_name[0] >= '0' && e->d_name[0] <= '9') procs++;
    if (d) closedir(d);
    printf("processes %d\n", procs);
    d = opendir("/proc/self/fd");
    int dfd = d ? dirfd(d) : -1;
    printf("fds");
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dfd) continue;
        printf(" %s", e->d_name);
    }
    printf("\n");
    if (d) closedir(d);
    char host[256] = "";
    gethostname(host, sizeof host);
    printf("hostname %s\n", host);
    char names[16][32];
    int count = interfaces(names, 16);
    printf("interfaces");
    for (int i = 0; i < count; i++) printf(" %s", names[i]);
    printf("\n");
    char cwd[4096];
    printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    struct rlimit { unsigned long cur, max; } rl;
    syscall(SYS_prlimit64, 0, 4 /* RLIMIT_CORE */, NULL, &rl);
    printf("core-limit %lu\n", rl.cur);
}

// personality(value) in a child, so a persona that is let through dies with it.
static void try_personality(const char *text) {
    unsigned long value = strtoul(text, NULL, 0);
    char name[48];
    snprintf(name, sizeof name, "personality-%#lx", value);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(syscall(SYS_personality, value) == -1 ? (errno & 0xff) : 0);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) printf("%s killed-by-signal-%d\n", name, WTERMSIG(status));
    else printf("%s %s\n", name, errname(WEXITSTATUS(status)));
}

static void try_socketpair(const char *text) {
    int family = atoi(text), fds[2];
    char name[48];
    snprintf(name, sizeof name, "socketpair-%d", family);
    int rc = socketpair(family, SOCK_STREAM, 0, fds);
    report(name, rc);
    if (rc == 0) { close(fds[0]); close(fds[1]); }
}

static int in_initial_user_namespace(void) {
    FILE *f = fopen("/proc/self/uid_map", "r");
    if (!f) return 0; // no procfs: certainly not the host as we know it
    unsigned long inside, outside, count;
    int n = fscanf(f, "%lu %lu %lu", &inside, &outside, &count);
    fclose(f);
    return n == 3 && inside == 0 && outside == 0 && count == 4294967295UL;
}

// lpa-run's degraded mode (--isolation landlock) has no user namespace: a process with
// no_new_privs and a seccomp filter (what lpa-run always sets) counts as sandboxed.
static int confined_without_namespaces(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    int nnp = 0, filtered = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "NoNewPrivs:", 11)) nnp = atoi(line + 11) == 1;
        if (!strncmp(line, "Seccomp:", 8)) filtered = atoi(line + 8) == 2;
    }
    fclose(f);
    return nnp && filtered;
}

// Echo server on 127.0.0.1:PORT inside the sandbox: one child per connection echoes
// until EOF, then half-closes, so relays can be tested for half-close and concurrency.
static int echo_server(int port) {
    signal(SIGCHLD, SIG_IGN);  // children are reaped by the kernel
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1024) != 0) {
        report("echo-server", -1);
        return 1;
    }
    printf("listening\n");
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        pid_t pid = fork();
        if (pid == 0) {
            close(s);
            char buf[65536];
            ssize_t n;
            while ((n = read(c, buf, sizeof buf)) > 0) {
                for (ssize_t off = 0; off < n;) {
                    ssize_t w = write(c, buf + off, (size_t)(n - off));
                    if (w <= 0) _exit(1);
                    off += w;
                }
            }
            shutdown(c, SHUT_WR);
            _exit(0);
        }
        close(c);
    }
}

// A workload that misbehaves the way a model server phoning home would: it connects
// to a documentation address (203.0.113.7, TEST-NET-3), ptraces, mounts. It first makes
// sure loopback is its only interface and refuses otherwise, so no packet can ever
// leave this machine even if it ran outside a sandbox.
// Nothing may leave: the calls below target a documentation address and must only
// ever meet an empty network namespace. Refuse when any interface but lo exists.
static int only_loopback(void) {
    char names[16][32];
    int count = interfaces(names, 16);
    if (count < 0) return 0;
    for (int i = 0; i < count; i++) {
        if (strcmp(names[i], "lo") != 0) {
            fprintf(stderr, "lpa-probe: interface %s exists: refusing to connect anywhere\n", names[i]);
            return 0;
        }
    }
    return 1;
}

// A UDP datagram whose payload is `canary`: the audit must record the call and the
// address, never the payload.
static int sendto_out(const char *canary) {
    if (!only_loopback()) return 3;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, "203.0.113.7", &a.sin_addr);
    report("sendto-out", sendto(s, canary, strlen(canary), 0, (struct sockaddr *)&a, sizeof a));
    close(s);
    return 0;
}

static int misbehave(void) {
    if (!only_loopback()) return 3;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(443)};
    inet_pton(AF_INET, "203.0.113.7", &a.sin_addr);
    report("connect-out", connect(s, (struct sockaddr *)&a, sizeof a));
    close(s);
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    report("ptrace", ptrace(PTRACE_ATTACH, child, NULL, NULL));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    report("mount", mount("none", "/nonexistent-lpa-probe", "tmpfs", 0, NULL));
    return 0;
}

// The caller's terminal: the workload must have no controlling terminal of the host's
// (/dev/tty refused), be a session leader, and be denied the ioctls that take a
// terminal over. The ioctls go to /dev/null: harmless (ENOTTY) should they be allowed.
static void terminal(void) {
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
    report("tty-open", tty);
    if (tty >= 0) close(tty);
    printf("session-leader %s\n", getsid(0) == getpid() ? "yes" : "no");
    int null = open("/dev/null", O_RDWR);
    pid_t group = getpgrp();
    int discipline = 0;
    report("ioctl-tiocspgrp", syscall(SYS_ioctl, null, (unsigned long)TIOCSPGRP, &group));
    report("ioctl-tiocsctty", syscall(SYS_ioctl, null, (unsigned long)TIOCSCTTY, 0));
    report("ioctl-tiocsetd", syscall(SYS_ioctl, null, (unsigned long)TIOCSETD, &discipline));
    report("ioctl-tioccons", syscall(SYS_ioctl, null, (unsigned long)TIOCCONS, 0));
    close(null);
}

// kcmp with invalid pids: ESRCH should the filter let it through. Floods the audit
// supervisor, and times its answers.
static int repeat_denied(long count) {
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long rc = 0;
    for (long i = 0; i < count; i++) rc = syscall(SYS_kcmp, -1L, -1L, -1L, -1L, -1L);
    clock_gettime(CLOCK_MONOTONIC, &end);
    report("repeat-denied", rc);
    long ms = (end.tv_sec - start.tv_sec) * 1000L + (end.tv_nsec - start.tv_nsec) / 1000000L;
    printf("repeat-denied-ms %ld\n", ms);
    return 0;
}

// A refused mount whose target text the caller chose (quotes, control characters,
// shell syntax): under /nonexistent-lpa-probe, so it fails with ENOENT if allowed.
static int mount_named(const char *text) {
    char target[512];
    snprintf(target, sizeof target, "/nonexistent-lpa-probe/%s", text);
    report("mount-named", mount("none", target, "tmpfs", 0, NULL));
    return 0;
}

static volatile sig_atomic_t got_signal = 0;
static void on_signal(int sig) { got_signal = sig; }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: lpa-probe syscalls|status|env|connect-tcp|connect-abstract|read|write|ls|wait-signal|exit|kill-self|nr N...|repeat-denied N|mount-named TEXT\n");
        return 2;
    }
    if (in_initial_user_namespace() && !confined_without_namespaces() && getenv("LPA_PROBE_ON_HOST") == NULL) {
        fprintf(stderr, "lpa-probe: refusing to run outside a sandbox (initial user namespace)\n");
        return 3;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "syscalls")) syscalls();
    else if (!strcmp(cmd, "status")) status();
    else if (!strcmp(cmd, "env")) { for (char **e = environ; *e; e++) printf("%s\n", *e); }
    else if (!strcmp(cmd, "connect-tcp") && argc == 4) {
        int s = socket(strchr(argv[2], ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
        inet_pton(AF_INET, argv[2], &a.sin_addr);
        report("connect-tcp", s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof a));
    } else if (!strcmp(cmd, "connect-abstract") && argc == 3) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t len = strlen(argv[2]);
        memcpy(a.sun_path + 1, argv[2], len);
        report("connect-abstract", connect(s, (struct sockaddr *)&a, (socklen_t)(sizeof(sa_family_t) + 1 + len)));
    } else if (!strcmp(cmd, "read") && argc == 3) {
        int fd = open(argv[2], O_RDONLY);
        report("read", fd);
    } else if (!strcmp(cmd, "write") && argc == 3) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0 && write(fd, "lpa-probe\n", 10) != 10) fd = -1;
        report("write", fd);
    } else if (!strcmp(cmd, "ls") && argc == 3) {
        DIR *d = opendir(argv[2]);
        struct dirent *e;
        while (d && (e = readdir(d))) if (e->d_name[0] != '.') printf("%s\n", e->d_name);
        if (!d) report("ls", -1);
    } else if (!strcmp(cmd, "wait-signal")) {
        // Every signal lpa-run forwards (ARCHITECTURE.md "Signals and lifetime").
        int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
        // Blocked until sigsuspend: a signal between the check and pause() would be
        // taken and pause() would then wait for another one (a hang under load).
        sigset_t block, waiting;
        sigemptyset(&block);
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
            signal(forwarded[i], on_signal);
            sigaddset(&block, forwarded[i]);
        }
        sigprocmask(SIG_BLOCK, &block, &waiting);
        printf("ready\n");
        fflush(stdout);
        while (!got_signal) sigsuspend(&waiting);
        printf("got-signal %d\n", (int)got_signal);
        return 0;
    } else if (!strcmp(cmd, "echo-server") && argc == 3) return echo_server(atoi(argv[2]));
    else if (!strcmp(cmd, "misbehave")) return misbehave();
    else if (!strcmp(cmd, "sendto-out") && argc == 3) return sendto_out(argv[2]);
    else if (!strcmp(cmd, "exit") && argc == 3) return atoi(argv[2]);
    else if (!strcmp(cmd, "nr")) { for (int i = 2; i < argc; i++) numbered_syscall(argv[i]); }
    else if (!strcmp(cmd, "kill-self") && argc == 3) { raise(atoi(argv[2])); return 99; }
    else if (!strcmp(cmd, "terminal")) terminal();
    else if (!strcmp(cmd, "kill-group") && argc == 3) { signal(atoi(argv[2]), SIG_IGN); report("kill-group", kill(0, atoi(argv[2]))); report("kill-init", kill(1, 0)); }
    else if (!strcmp(cmd, "personality")) { for (int i = 2; i < argc; i++) try_personality(argv[i]); }
    else if (!strcmp(cmd, "socketpair")) { for (int i = 2; i < argc; i++) try_socketpair(argv[i]); }
    else if (!strcmp(cmd, "fanotify-init")) {
        long fd = syscall(SYS_fanotify_init, 0x0UL /* FAN_CLASS_NOTIF */, (unsigned long)O_RDONLY);
        report("fanotify-init", fd);
        if (fd >= 0) close((int)fd);
    }
    else if (!strcmp(cmd, "repeat-denied") && argc == 3) return repeat_denied(strtol(argv[2], NULL, 10));
    else if (!strcmp(cmd, "mount-named") && argc == 3) return mount_named(argv[2]);
    else { fprintf(stderr, "lpa-probe: unknown command %s\n", cmd); return 2; }
    return 0;
}
