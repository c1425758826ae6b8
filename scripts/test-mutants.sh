#!/usr/bin/env bash
# Mutation check (`make test-mutants`, not part of `make test`): applies deliberate
# breakages of what lpa-run promises, one at a time, to a copy of the tree, runs the
# tests that should notice, and reports which mutant survived. Every mutant must be
# killed; a survivor means the tests would pass with that protection gone.
#
# The copy lives in $MUTANTS_DIR (default: a temp dir; its .build is reused between
# mutants, so only the mutated module recompiles). Needs root (the sandbox tests run
# as root and as uid 65534) and llama-server for the serving mutants (make llama).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${MUTANTS_DIR:-$(mktemp -d /tmp/lpa-mutants.XXXXXX)}"
SWIFT="${SWIFT:-swift}"
CACHE="${LPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lpa-run-dev}"
export LPA_LLAMA_SERVER="${LPA_LLAMA_SERVER:-$CACHE/llama/bin/llama-server}"
export LPA_TINY_MODEL="${LPA_TINY_MODEL:-$CACHE/llama/tiny.gguf}"

# name | file | perl substitution (applied with -0pi; must change the file) | test filter
MUTANTS=(
  "no hides|Sources/LPASandbox/Filesystem/MountSteps.swift|s/(        case \.hide:\n)/\$1            if true { return }\n/|hidesWithControl|shadowHidden"
  "a seccomp rule dropped (fsopen)|Sources/LPASandbox/Seccomp/SeccompFilter.swift|s/for rule in plan\.rules \{/for rule in plan.rules where rule.syscall != \"fsopen\" {/|everyDeniedSyscallIsRefused"
  "signals not forwarded (init to workload)|Sources/CWindow/window.c|s/if \(init_target >= 0\) pidfd_signal\(init_target, sig\);/(void)sig;/|signalsForwarded|sigtermEndsAnUncatchingWorkload"
  "inherited descriptors not closed (init and workload)|Sources/CWindow/window.c|s/syscall\(SYS_close_range, /0 \&\& syscall(SYS_close_range, /g|inheritedDescriptorsClosed|initHoldsNoHostDescriptors"
  "pins not compared|Sources/LPASandbox/Pins/PinVerifier.swift|s/guard actual == expected else \{/guard true else {/|wrongPinStopsTheRun"
  "home not private (host home bound)|Sources/LPAPolicy/Compile/MountCompiler.swift|s/if homeMode == \.tmpfs, home != \"\/\" \{/if false {/|tmpfsOnItsOwn|onlyTheReadWriteBindReachesTheHost"
  "half-close not forwarded|Sources/CSupervisor/relay.c|s/shutdown\(d->dst, SHUT_WR\);/(void)0;/|concurrentHalfClosedConnections"
  "no new session for the workload|Sources/CWindow/window.c|s/if \(setsid\(\) < 0\)/if (0)/g|ownSession|processGroupSignalStaysInside"
)

echo "mutants: copying the tree to $WORK"
mkdir -p "$WORK"
mkdir -p "$WORK/src"
(cd "$ROOT" && tar --exclude=./.build --exclude=./.git -cf - .) | tar -xf - -C "$WORK/src"
cd "$WORK/src"
"$SWIFT" build --build-tests >/dev/null

results=()
survived=0
for entry in "${MUTANTS[@]}"; do
  IFS='|' read -r name file subst filters_a filters_b <<<"$entry"
  filter="$filters_a${filters_b:+|$filters_b}"
  cp "$file" "$file.orig"
  perl -0pi -e "$subst" "$file"
  if cmp -s "$file" "$file.orig"; then
    mv "$file.orig" "$file"
    results+=("| $name | \`$file\` | pattern not found: update this mutant | - |")
    survived=$((survived + 1))
    continue
  fi
  echo "mutant: $name"
  if ! "$SWIFT" build --build-tests >/tmp/lpa-mutant-build.log 2>&1; then
    verdict="killed (does not build)"
  elif timeout 900 "$SWIFT" test --skip-build --filter "$filter" >/tmp/lpa-mutant-test.log 2>&1; then
    verdict="SURVIVED"
    survived=$((survived + 1))
  else
    verdict="killed"
  fi
  mv "$file.orig" "$file"
  results+=("| $name | \`$file\` | \`${filter//|/\`, \`}\` | $verdict |")
done
"$SWIFT" build --build-tests >/dev/null 2>&1 || true

echo
echo "| mutant | file | tests | result |"
echo "|---|---|---|---|"
printf '%s\n' "${results[@]}"
[ -z "${MUTANTS_DIR:-}" ] && rm -rf "$WORK"
if [ "$survived" -gt 0 ]; then echo "mutants: $survived survived or could not be applied"; exit 1; fi
echo "mutants: all ${#MUTANTS[@]} killed"
