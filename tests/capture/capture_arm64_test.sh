#!/usr/bin/env bash
# Tests of traces/capture.sh --arch arm64 (qemu-user and the mmusim_trace plugin).
#
# usage: capture_arm64_test.sh trace|unknown MMUSIM_BINARY PLUGIN_SO WORK_DIR
#
#   trace    captures GNU sort (coreutils from Debian's arm64 archive) and checks the
#            trace: first line, @map lines (against qemu's own -d page dump), @sys counts
#            (against qemu-aarch64 -strace of the same run), records (mmusim validate),
#            byte-identical captures, the -n cap; then runs the trace in workload.layout
#            "trace" and checks kernel.by_op against the -strace counts
#   unknown  a program that is in no arm64 package: clear error, non-zero exit, no output
#
# The arm64 sysroot and package lists are cached in $MMUSIM_CACHE (default WORK_DIR/cache),
# so only the first run downloads (about 7 MB of packages, 9 MB of lists; the unknown test
# also the 11 MB Contents-arm64 index).
set -euo pipefail

mode=$1
mmusim=$2
plugin=$3
work=$4
src=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
capture=$src/traces/capture.sh
export MMUSIM_CACHE=${MMUSIM_CACHE:-$work/cache}
export MMUSIM_TRACE_PLUGIN=$plugin

fail() { echo "FAIL: $*" >&2; exit 1; }
records() { zstd -dc -- "$1" | grep -cE '^(I | [LSM] )' || true; }

run=$work/$mode
rm -rf -- "$run"
mkdir -p -- "$run"
cd -- "$run"

if [[ $mode == unknown ]]; then
    status=0
    "$capture" --arch arm64 -o out.zst -- mmusim-no-such-program 2>err.txt || status=$?
    cat err.txt
    [[ $status -ne 0 ]] || fail "an unknown program gave exit status 0"
    grep -q "'mmusim-no-such-program' is not a program of Debian bookworm's arm64 archive" err.txt ||
        fail "no clear error message"
    [[ $(grep -c 'error' err.txt) -eq 1 ]] || fail "expected exactly one error paragraph"
    [[ -z $(ls -A) || $(ls -A) == err.txt ]] || fail "files were left behind: $(ls -A)"
    echo "PASS: unknown program"
    exit 0
fi
[[ $mode == trace ]] || fail "unknown mode '$mode'"

seq 3000 -1 1 >input.txt

# --- two full captures of the same run: same bytes
"$capture" --arch arm64 -i input.txt -O sorted.txt -o a.zst -- sort 2>a.err || { cat a.err; fail "capture failed"; }
cat a.err
"$capture" --arch arm64 -i input.txt -O sorted2.txt -o b.zst -- sort 2>b.err || { cat b.err; fail "capture failed"; }
LC_ALL=C sort input.txt | cmp -s - sorted.txt || fail "the traced sort did not sort its stdin"
cmp a.zst b.zst || fail "two captures of the same run differ"
zstd -dc a.zst >a.txt

# --- first line, @map lines
[[ $(head -n1 a.txt) == "@trace arm64 4096" ]] || fail "first line is '$(head -n1 a.txt)'"
grep '^@map ' a.txt >maps.txt || fail "no @map lines"
cat maps.txt
grep -qE '^@map [0-9a-f]+ [0-9a-f]+ r-xp 0+ /usr/bin/sort$' maps.txt || fail "no @map of /usr/bin/sort"
grep -qE ' rw-p [0-9a-f]+ \[stack\]$' maps.txt || fail "no @map of [stack]"
grep -qE ' /lib/aarch64-linux-gnu/ld-linux-aarch64\.so\.1$' maps.txt || fail "no @map of the interpreter"
first_record=$(grep -nm1 -E '^(I | [LS] )' a.txt | cut -d: -f1)
last_map=$(grep -n '^@map ' a.txt | tail -n1 | cut -d: -f1)
[[ $last_map -lt $first_record ]] || fail "@map lines after the first record"
prev=0
while read -r _ s e p _ _; do
    (( 0x$e > 0x$s )) || fail "empty @map range $s-$e"
    (( 0x$s >= prev )) || fail "@map ranges unsorted or overlapping at $s"
    [[ $p =~ ^[r-][w-][x-][ps]$ ]] || fail "bad PROT $p"
    prev=$((0x$e))
done <maps.txt

# The same ranges and protections as qemu's own page dump after loading (adjacent @map
# lines with the same protection merged, as the dump merges them).
root=$MMUSIM_CACHE/arm64-sysroot/coreutils
[[ -x $root/usr/bin/sort ]] || fail "no cached sysroot at $root"
env -i PATH=/usr/bin:/bin LC_ALL=C qemu-aarch64 -L "$root" -seed 1 -0 sort -d page -D page.log \
    "$root/usr/bin/sort" <input.txt >/dev/null
awk '/^page layout changed following binary load/ { on = 1; next }
     on && /^[0-9a-f]+-[0-9a-f]+ / { split($1, r, "-"); print r[1], r[2], $3; next }
     on && !/^start / { exit }' page.log | sed -E 's/^0+([0-9a-f])/\1/; s/ 0+([0-9a-f])/ \1/' >dump.txt
awk '{ p = substr($4, 1, 3)
       if (n && $2 == end && p == prot) { end = $3; next }
       if (n) print start, end, prot
       start = $2; end = $3; prot = p; n = 1 }
     END { if (n) print start, end, prot }' maps.txt | sed -E 's/^0+([0-9a-f])/\1/; s/ 0+([0-9a-f])/ \1/' >merged.txt
diff dump.txt merged.txt || fail "@map lines differ from qemu's -d page dump after loading"

# --- @sys lines: each right after the I record of its svc; counts as qemu -strace sees them
awk '/^@sys / && prev !~ /^I  / { print "line " NR ": @sys after \"" prev "\""; bad = 1 }
     { prev = $0 } END { exit bad }' a.txt || fail "@sys line not right after an I record"
env -i PATH=/usr/bin:/bin LC_ALL=C qemu-aarch64 -L "$root" -seed 1 -0 sort -strace -D strace.log \
    "$root/usr/bin/sort" <input.txt >/dev/null
for call in mmap munmap mprotect brk; do
    ours=$(grep -c "^@sys $call " a.txt || true)
    theirs=$(grep -cE "^[0-9]+ $call\(" strace.log || true)
    echo "$call: $ours @sys lines, $theirs in qemu -strace"
    [[ $ours -eq $theirs && $ours -gt 0 ]] || fail "$call: $ours @sys lines but $theirs calls in -strace"
done
grep -qE '^@sys mmap( [0-9a-f]+){6} = [0-9a-f]+ /lib/aarch64-linux-gnu/libc\.so\.6$' a.txt ||
    fail "no @sys mmap of libc.so.6 with its path"
grep -qE '^@sys exit_group( [0-9a-f]+){6}$' a.txt || fail "no @sys exit_group line (without result)"
[[ $(tail -n1 a.txt) == "@sys exit_group "* ]] || fail "the trace does not end with exit_group"

# --- records parse (the simulator's own reader)
printf '{"workload": {"trace": {"path": "%s", "format": "lackey"}}}\n' "$run/a.zst" >config.json
"$mmusim" validate config.json | tee validate.txt
n=$(records a.zst)
grep -q "$n records" validate.txt || fail "mmusim validate did not read $n records"
grep -q "wrote $n records" a.err || fail "capture.sh reported another record count than $n"

# --- the trace drives the kernel model (workload.layout "trace"): each mmap, munmap,
# mprotect and brk that qemu -strace saw is one call of kernel.by_op, the invariant checker on
printf '{"kernel": {"mthp": ["64K"]}, "workload": {"layout": "trace", "trace": {"path": "%s", "format": "lackey"}}}\n' \
    "$run/a.zst" >layout.json
"$mmusim" run layout.json --check --json >stats.json || fail "layout trace run failed"
by_op_calls() {  # the "calls" of kernel.by_op.$1 in the (pretty-printed) stats
    awk -v op="\"$1\": {" '/^    "by_op": \{/ { on = 1; next }
        on && /^    [}]/ { exit }
        on && index($0, "      " op) == 1 { want = 1; next }
        want && /^        "calls": / { gsub(/[^0-9]/, ""); print; exit }' stats.json
}
for call in mmap munmap mprotect brk; do
    model=$(by_op_calls "$call")
    theirs=$(grep -cE "^[0-9]+ $call\(" strace.log || true)
    echo "$call: kernel.by_op $model, qemu -strace $theirs"
    [[ $model -eq $theirs ]] || fail "$call: kernel.by_op counts $model calls, qemu -strace $theirs"
done

# --- -n caps the records and stops the program
"$capture" --arch arm64 -n 5000 -i input.txt -o c.zst -- sort 2>c.err || { cat c.err; fail "capture -n failed"; }
cat c.err
[[ $(records c.zst) -eq 5000 ]] || fail "-n 5000 gave $(records c.zst) records"
grep -q "cap of 5000 records reached" c.err || fail "no cap message"
zstd -dc c.zst >c.txt
head -n "$(wc -l <c.txt)" a.txt | cmp -s - c.txt || fail "the capped trace is not the start of the full one"

# --- the host's files are read-only for the guest (run as root: a mount namespace), so a
# program cannot change them through qemu's fallback to host paths
if [[ $(id -u) -eq 0 ]]; then
    victim=/usr/lib/mmusim-capture-ro-test.$$
    "$capture" --arch arm64 -o d.zst -- sort -o "$victim" input.txt 2>d.err || true
    [[ ! -e $victim ]] || { rm -f -- "$victim"; fail "the guest created $victim on the host"; }
    grep -q "Read-only file system" d.err || { cat d.err; fail "no read-only error from the guest"; }
fi

echo "PASS: arm64 capture of sort ($n records, $(wc -c <a.zst) bytes)"
