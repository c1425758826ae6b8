#!/bin/sh
# make fuzz: builds lpa-fuzz with libFuzzer and AddressSanitizer (its own build
# directory, so the ordinary build is untouched) and runs every target for
# FUZZ_SECONDS each, starting from the checked-in corpus (Tests/FuzzCorpus/TARGET).
# New interesting inputs go to a working corpus in the cache; a crash, timeout or
# out-of-memory input is copied to Tests/FuzzCorpus/TARGET/crash-* so the replay test
# (FuzzCorpusTests, part of `make test`) keeps it fixed. Prints one line per target:
# executions, new corpus entries, findings (docs/RELIABILITY.md records them).
set -eu
seconds=${FUZZ_SECONDS:-180}
targets=${FUZZ_TARGETS:-"profile endpoint size audit dns start-caches"}
cache=${LPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lpa-run-dev}/fuzz
root=$(cd "$(dirname "$0")/.." && pwd)
swift build --scratch-path "$root/.build/fuzz" --sanitize=fuzzer --sanitize=address \
    -Xswiftc -DLPA_LIBFUZZER --product lpa-fuzz >"$cache.build.log" 2>&1 || {
    tail -30 "$cache.build.log"; echo "fuzz: the libFuzzer build failed (log: $cache.build.log)" >&2; exit 1; }
fuzzer="$root/.build/fuzz/debug/lpa-fuzz"
status=0
for target in $targets; do
    work="$cache/$target"; findings="$cache/findings-$target"
    mkdir -p "$work" "$findings"
    log="$cache/$target.log"
    # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: unbounded allocation.
    LPA_FUZZ_TARGET=$target "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -print_final_stats=1 -artifact_prefix="$findings/" \
        "$work" "$root/Tests/FuzzCorpus/$target" >"$log" 2>&1 || true
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    found=0
    for artifact in "$findings"/crash-* "$findings"/timeout-* "$findings"/oom-* "$findings"/leak-*; do
        [ -e "$artifact" ] || continue
        found=$((found + 1))
        cp "$artifact" "$root/Tests/FuzzCorpus/$target/$(basename "$artifact")"
        rm -f "$artifact"
    done
    echo "fuzz $target: ${runs:-0} executions in ${seconds}s, ${added:-0} new corpus entries, $found findings (log: $log)"
    [ "$found" -eq 0 ] || status=1
done
exit $status
