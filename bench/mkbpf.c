/* mkbpf OUT < rules: build a libseccomp filter from lines
 *   "NR ERRNO"                              (unconditional errno rule)
 *   "NR ERRNO IDX OP VALUE MASK"            (one argument comparison; OP eq ne lt le gt ge masked-eq)
 * default allow, non-native ABIs killed (libseccomp's default bad-arch action), with
 * the binary-tree optimisation when available, and export the BPF to OUT for bwrap --seccomp. */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
#ifdef SCMP_FLTATR_CTL_OPTIMIZE
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
#endif
    char line[256]; int count = 0;
    while (fgets(line, sizeof line, stdin)) {
        int nr, err, idx; char op[32]; unsigned long long val, mask; int rc;
        int k = sscanf(line, "%d %d %d %31s %llu %llu", &nr, &err, &idx, op, &val, &mask);
        if (k == 2) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 0);
        else if (k == 6) {
            enum scmp_compare c = !strcmp(op, "eq") ? SCMP_CMP_EQ : !strcmp(op, "ne") ? SCMP_CMP_NE :
                !strcmp(op, "lt") ? SCMP_CMP_LT : !strcmp(op, "le") ? SCMP_CMP_LE : !strcmp(op, "gt") ? SCMP_CMP_GT :
                !strcmp(op, "ge") ? SCMP_CMP_GE : SCMP_CMP_MASKED_EQ;
            struct scmp_arg_cmp a = { .arg = (unsigned)idx, .op = c, .datum_a = c == SCMP_CMP_MASKED_EQ ? mask : val, .datum_b = val };
            rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(err), nr, 1, &a);
        } else continue;
        if (rc) { fprintf(stderr, "mkbpf: rule '%s' failed: %s\n", line, strerror(-rc)); return 1; }
        count++;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || seccomp_export_bpf(ctx, fd)) { perror("mkbpf export"); return 1; }
    close(fd);
    fprintf(stderr, "mkbpf: %d rules\n", count);
    return 0;
}
