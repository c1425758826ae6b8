/* sysloop MODE N: N calls of a cheap allowed syscall; prints ns per call.
 *   getppid : syscall(SYS_getppid) -- no argument checks in lpa-run's filter
 *             (the kernel's seccomp action cache may skip the BPF program entirely)
 *   ioctl   : ioctl(/dev/null, TCGETS) -> ENOTTY -- ioctl has argument rules (TIOCSTI),
 *             so the BPF program runs on every call */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: sysloop getppid|ioctl N\n"); return 2; }
    long n = atol(argv[2]); int fd = open("/dev/null", O_RDONLY);
    struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    if (!strcmp(argv[1], "getppid")) for (long i = 0; i < n; i++) syscall(SYS_getppid);
    else for (long i = 0; i < n; i++) syscall(SYS_ioctl, fd, TCGETS, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n);
    return 0;
}
