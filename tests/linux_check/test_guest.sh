#!/usr/bin/env bash
# Tests of scripts/linux_check/guest.c, the guest program of scripts/linux-check, on this host:
# built natively and run in its test mode (`guest PLAN`: no mounts, no sysfs, each checkpoint
# printed on stdout) on small plans, with checks of the pagemap entries, folios and fault
# counts it reports; then cross-compiled for aarch64 (static, -Werror) and, when qemu-aarch64
# is installed, run under qemu-user with ifetch accesses (the SIGILL return path).
#
# usage (from the repository root): bash tests/linux_check/test_guest.sh
# Needs gcc, aarch64-linux-gnu-gcc, a kernel with userfaultfd; run as root so that pagemap has
# PFNs and /proc/kpageflags is readable (else the kpageflags and folio checks are skipped).
set -euo pipefail

src=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/linux_check/guest.c
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

failures=0
passes=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { passes=$((passes + 1)); }
check() { # check DESCRIPTION COMMAND...: the command must succeed
    local what=$1
    shift
    if "$@"; then pass; else fail "$what"; fi
}

cflags=(-O2 -Wall -Wextra -Werror)
gcc "${cflags[@]}" -o "$work/guest" "$src" || { echo "FAIL: native build of guest.c" >&2; exit 1; }
kpageflags=0
if [[ -r /proc/kpageflags ]] && head -c 8 /proc/kpageflags >/dev/null 2>&1; then kpageflags=1; fi
[[ $kpageflags == 1 ]] || echo "note: /proc/kpageflags is not readable: kpageflags and folio checks skipped" >&2

# run NAME: runs the guest on $work/NAME.plan; stdout in NAME.out, stderr in NAME.err, the
# exit status in $status; the page lines and fault counts of the output go into page[] and
# fault_count[] for field and faults.
declare -A page fault_count
run() {
    status=0
    "$work/guest" "$work/$1.plan" >"$work/$1.out" 2>"$work/$1.err" || status=$?
    load_output "$1"
}
load_output() { # load_output NAME
    local first rest ckpt="" line
    while read -r line; do
        first=${line%% *}
        rest=${line#* }
        case $first in
            ckpt)
                ckpt="${rest% npages=*}"
                fault_count["$1 $ckpt"]=${line##*faults=}
                ;;
            0x*) page["$1 $ckpt $first"]=$line ;;
        esac
    done <"$work/$1.out"
}

# field NAME CKPT PID VA N: the N-th field (1 va, 2 pagemap, 3 kpageflags, 4 folio pages,
# 5 folio index) of page VA in process PID's report of checkpoint CKPT.
field() {
    local -a f
    read -r -a f <<<"${page["$1 $2 $3 $4"]:-missing missing missing missing missing}"
    echo "${f[$5 - 1]}"
}
faults() { # faults NAME CKPT PID
    echo "${fault_count["$1 $2 $3"]:-missing}"
}
bit() { # bit VALUE N: bit N of a 0x... value
    [[ $1 == 0x* ]] || { echo 0; return; }
    echo $(((($1) >> $2) & 1))
}
pfn() { echo $(($1 & ((1 << 55) - 1))); }
pages() { # pages START COUNT: COUNT page addresses from START
    local i
    for ((i = 0; i < $2; i++)); do printf '0x%x\n' $(($1 + i * 4096)); done
}
all_present() { # all_present NAME CKPT PID START COUNT WANT(0|1)
    local va
    for va in $(pages "$4" "$5"); do
        [[ $(bit "$(field "$1" "$2" "$3" "$va" 2)" 63) == "$6" ]] || return 1
    done
}
ran_ok() { # ran_ok NAME: exit 0 and "plan done"
    [[ $status == 0 ]] && grep -q '^mmusim-guest: plan done$' "$work/$1.err"
}

A=0x200000000
B=0x300000000

# 1. mmap, 16 stores, checkpoint: 16 present pages, 16 faults, order-0 folios.
cat >"$work/store.plan" <<EOF
mmusim-guest-plan 1
region heap $A 0x10000
region unused $B 0x4000
op 0 mmap $A 0x10000 rw private
op 0 madvise $A 0x10000 nohugepage
run 0 store 8 $A 0x1000 16
checkpoint 0 after-store
end
EOF
run store
check "store: the plan runs (status $status): $(cat "$work/store.err")" ran_ok store
check "store: all 16 stored pages are present" all_present store 0 0 $A 16 1
check "store: the unused region's pages are not present" all_present store 0 0 $B 4 0
check "store: 20 page lines in the checkpoint" [ "$(grep -c '^0x' "$work/store.out")" = 20 ]
check "store: npages=20 in the header" grep -q '^ckpt 0 0 npages=20 ' "$work/store.out"
check "store: faults=16 (got $(faults store 0 0))" [ "$(faults store 0 0)" = 16 ]
check "store: counter faults 16" grep -q '^counter faults 16$' "$work/store.out"
check "store: a thp/<N>kB/<stat> counter" grep -qE '^counter thp/[0-9]+kB/[a-z_]+ ' "$work/store.out"
check "store: a vmstat/pgfault counter" grep -q '^counter vmstat/pgfault ' "$work/store.out"
check "store: progress line of the checkpoint" grep -q '^mmusim-guest: checkpoint 0 after-store$' "$work/store.err"

# 1b. A file line makes a sparse file; a private mapping of it at an offset: reads fault its
# pages in (present, the page cache's), a store copies one (exclusive anonymous page).
cat >"$work/file.plan" <<EOF
mmusim-guest-plan 1
file 3 0x20000
region text $A 0x8000
op 0 mmap $A 0x8000 rw private file 3 0x10000
run 0 load 8 $A 0x1000 8
run 0 store 8 $A 0x0 1
checkpoint 0 read
end
EOF
run file
check "file: the plan runs (status $status): $(cat "$work/file.err")" ran_ok file
check "file: all 8 read pages are present" all_present file 0 0 $A 8 1
# The host's fault-around decides how many reads fault; the copy-on-write store is one more.
check "file: 2 to 9 faults (got $(faults file 0 0))" [ "$(faults file 0 0)" -ge 2 -a "$(faults file 0 0)" -le 9 ]
check "file: the stored page is exclusive (pagemap bit 56)" [ "$(bit "$(field file 0 0 $A 2)" 56)" = 1 ]
check "file: no file left behind" bash -c '! ls -d /tmp/mmusim-guest-files.* 2>/dev/null'
for bad in "file 0 0x1001" "file 64 0x1000"; do
    printf 'mmusim-guest-plan 1\n%s\nend\n' "$bad" >"$work/badfile.plan"
    run badfile
    check "bad file line '$bad': refused" [ "$status" != 0 ]
done
printf 'mmusim-guest-plan 1\nregion r %s 0x1000\nop 0 mmap %s 0x1000 r private file 2 0x0\nend\n' $A $A >"$work/nofile.plan"
run nofile
check "an mmap of an undeclared file is refused, naming the line" grep -q 'line 3' "$work/nofile.err"
if [[ $kpageflags == 1 ]]; then
    va=$(printf '0x%x' $((A + 0x3000)))
    check "store: kpageflags of a stored page is not 0" [ "$(field store 0 0 "$va" 3)" != 0x0000000000000000 ]
    check "store: a stored page is in an order-0 folio at index 0" \
        [ "$(field store 0 0 "$va" 4) $(field store 0 0 "$va" 5)" = "1 0" ]
    check "store: a stored page's kpageflags has no compound bits" \
        [ "$(bit "$(field store 0 0 "$va" 3)" 15)$(bit "$(field store 0 0 "$va" 3)" 16)" = 00 ]
    check "store: an absent page has kpageflags 0 and no folio" \
        [ "$(field store 0 0 $B 3) $(field store 0 0 $B 4)" = "0x0000000000000000 0" ]
fi

# 2. mprotect half read-only: loads everywhere work; a store into the read-only half is a
#    fatal error naming the plan line and the address.
cat >"$work/mprotect.plan" <<EOF
mmusim-guest-plan 1
region heap $A 0x8000
op 0 mmap $A 0x8000 rw private
op 0 mprotect $(printf '0x%x' $((A + 0x4000))) 0x4000 r
run 0 load 1 $A 0x1000 8
checkpoint 0 loaded
run 0 store 1 $A 0x1000 8
end
EOF
run mprotect
check "mprotect: a store into the read-only half fails (status $status)" [ "$status" != 0 ]
check "mprotect: the error names plan line 7 and the address: $(cat "$work/mprotect.err")" \
    grep -q "^mmusim-guest: error: plan line 7 .*store of 1 bytes at 0x$(printf '%x' $((A + 0x4000))) got SIGSEGV" \
    "$work/mprotect.err"
check "mprotect: the loads before it reached the checkpoint" grep -q '^ckpt 0 0 ' "$work/mprotect.out"
check "mprotect: 8 loads took 8 faults (got $(faults mprotect 0 0))" [ "$(faults mprotect 0 0)" = 8 ]

# 3. munmap part: the unmapped pages are gone, the others stay.
cat >"$work/munmap.plan" <<EOF
mmusim-guest-plan 1
region heap $A 0x8000
op 0 mmap $A 0x8000 rw private
op 0 madvise $A 0x8000 nohugepage
run 0 store 1 $A 0x1000 8
op 0 munmap $(printf '0x%x' $((A + 0x2000))) 0x3000
checkpoint 0 after-munmap
end
EOF
run munmap
check "munmap: the plan runs: $(cat "$work/munmap.err")" ran_ok munmap
check "munmap: pages 0-1 present" all_present munmap 0 0 $A 2 1
check "munmap: pages 2-4 gone" all_present munmap 0 0 $((A + 0x2000)) 3 0
check "munmap: pages 5-7 present" all_present munmap 0 0 $((A + 0x5000)) 3 1
check "munmap: unmapped pages have pagemap 0" \
    [ "$(field munmap 0 0 "$(printf '0x%x' $((A + 0x3000)))" 2)" = 0x0000000000000000 ]

# 4. fork: the child's store copies page 0 (one fault); both report; page 1 stays shared; the
#    child exits and its faults stay counted.
cat >"$work/fork.plan" <<EOF
mmusim-guest-plan 1
region heap $A 0x4000
op 0 mmap $A 0x4000 rw private
op 0 madvise $A 0x4000 nohugepage
run 0 store 1 $A 0x1000 4
op 0 fork 1
run 1 store 1 $A 0x0 1
checkpoint 0 after-child-store
op 1 exit
run 0 store 1 $(printf '0x%x' $((A + 0x1000))) 0x0 1
checkpoint 1 after-exit
end
EOF
run fork
p1=$(printf '0x%x' $((A + 0x1000)))
check "fork: the plan runs: $(cat "$work/fork.err")" ran_ok fork
check "fork: both processes report checkpoint 0" \
    [ "$(grep -c '^ckpt 0 ' "$work/fork.out")" = 2 ]
check "fork: only process 0 reports checkpoint 1" \
    [ "$(grep '^ckpt 1 ' "$work/fork.out" | cut -d' ' -f3 | tr '\n' ' ')" = "0 " ]
check "fork: faults=5 in both reports (4 stores and the child's copy)" \
    [ "$(faults fork 0 0) $(faults fork 0 1)" = "5 5" ]
check "fork: faults=6 after the child exited and the parent stored to page 1 (got $(faults fork 1 0))" \
    [ "$(faults fork 1 0)" = 6 ]
check "fork: every page is present in the child" all_present fork 0 1 $A 4 1
check "fork: the child's page 0 is mapped exclusively (pagemap bit 56)" \
    [ "$(bit "$(field fork 0 1 $A 2)" 56)" = 1 ]
check "fork: page 1 is shared after the fork (pagemap bit 56 clear in the child)" \
    [ "$(bit "$(field fork 0 1 "$p1" 2)" 56)" = 0 ]
if [[ $kpageflags == 1 ]]; then
    check "fork: the child's page 0 is a copy (another pfn)" \
        [ "$(pfn "$(field fork 0 0 $A 2)")" != "$(pfn "$(field fork 0 1 $A 2)")" ]
    check "fork: page 1 is the same pfn in parent and child" \
        [ "$(pfn "$(field fork 0 0 "$p1" 2)")" = "$(pfn "$(field fork 0 1 "$p1" 2)")" ]
    check "fork: the parent's store after the child exited reused page 1 (same pfn, exclusive again)" \
        [ "$(pfn "$(field fork 1 0 "$p1" 2)") $(bit "$(field fork 1 0 "$p1" 2)" 56)" = "$(pfn "$(field fork 0 0 "$p1" 2)") 1" ]
fi

# 5. madvise dontneed: the pages are gone.
cat >"$work/dontneed.plan" <<EOF
mmusim-guest-plan 1
region heap $A 0x8000
op 0 mmap $A 0x8000 rw private
run 0 store 1 $A 0x1000 8
checkpoint 0 stored
op 0 madvise $A 0x8000 dontneed
checkpoint 1 after-dontneed
end
EOF
run dontneed
check "dontneed: the plan runs: $(cat "$work/dontneed.err")" ran_ok dontneed
check "dontneed: present before" all_present dontneed 0 0 $A 8 1
check "dontneed: not present after" all_present dontneed 1 0 $A 8 0

# 6. uffd write protection: protected pages carry the uffd-wp bit (pagemap bit 57); a store
#    to one is answered by the monitor thread, which unprotects that page only.
cat >"$work/uffd.plan" <<EOF
mmusim-guest-plan 1
region heap $A 0x4000
region missing $B 0x4000
op 0 mmap $A 0x4000 rw private
op 0 madvise $A 0x4000 nohugepage
run 0 store 1 $A 0x1000 4
op 0 uffd_register $A 0x4000 missing=0 wp=1 async=0 wp_unpopulated=0
op 0 uffd_wp $A 0x4000 1
checkpoint 0 protected
run 0 store 1 $p1 0x0 1
checkpoint 1 stored
op 0 mmap $B 0x4000 rw private
op 0 madvise $B 0x4000 nohugepage
op 0 uffd_register $B 0x4000 missing=1 wp=0 async=0 wp_unpopulated=0
run 0 load 1 $B 0x2000 2
checkpoint 2 missing
end
EOF
run uffd
check "uffd: the plan runs: $(cat "$work/uffd.err")" ran_ok uffd
wp_bits() { local va s=""; for va in $(pages $A 4); do s+=$(bit "$(field uffd "$1" 0 "$va" 2)" 57); done; echo "$s"; }
check "uffd: all 4 pages write-protected (got $(wp_bits 0))" [ "$(wp_bits 0)" = 1111 ]
check "uffd: the stored page lost its protection, the others kept it (got $(wp_bits 1))" [ "$(wp_bits 1)" = 1011 ]
check "uffd: the write-protect fault is one fault (got $(faults uffd 0 0) then $(faults uffd 1 0))" \
    [ "$(faults uffd 0 0) $(faults uffd 1 0)" = "4 5" ]
check "uffd: the missing pages got the monitor's copies (pages 0 and 2 present, 1 and 3 not)" \
    [ "$(for va in $(pages $B 4); do bit "$(field uffd 2 0 "$va" 2)" 63; done | tr -d '\n')" = 1010 ]

# 7. A failing call is noted and the plan goes on.
cat >"$work/opfail.plan" <<EOF
mmusim-guest-plan 1
region heap $A 0x4000
op 0 mmap $A 0x4000 rw private
op 0 mmap $A 0x1000 rw private
run 0 store 1 $A 0x0 1
checkpoint 0 after
end
EOF
run opfail
check "opfail: the plan runs: $(cat "$work/opfail.err")" ran_ok opfail
check "opfail: the second mmap is noted as op 1 failed with EEXIST" \
    grep -q '^mmusim-guest: op 1 failed: errno EEXIST$' "$work/opfail.err"

# 7b. migrate (move_pages to the other NUMA node; on a host with one node the pages stay
#     where they are) and reclaim (MADV_COLD): the pages stay present, nothing fails.
cat >"$work/numa.plan" <<EOF
mmusim-guest-plan 1
numa 2
region heap $A 0x8000
op 0 mmap $A 0x8000 rw private
run 0 store 1 $A 0x1000 6
op 0 migrate $A 0x8000
op 0 reclaim $A 0x8000
checkpoint 0 after
end
EOF
run numa
check "numa: the plan runs: $(cat "$work/numa.err")" ran_ok numa
check "numa: the 6 stored pages are still present" all_present numa 0 0 $A 6 1
check "numa: migrate reports the 6 pages on their target node (or no NUMA on this host): $(cat "$work/numa.err")" \
    grep -qE '^mmusim-guest: op 2 (migrate: 6 pages on their target node, 0 left|failed: errno ENOSYS$)' "$work/numa.err"
check "numa: reclaim does not fail" bash -c "! grep -q '^mmusim-guest: op 3 failed' '$work/numa.err'"
check "numa: no fault beyond the 6 stores (got $(faults numa 0 0))" [ "$(faults numa 0 0)" = 6 ]

# 8. Malformed plans: an error naming the line, exit status not 0.
malformed() { # malformed NAME LINE PATTERN PLAN_TEXT
    printf '%s' "$4" >"$work/$1.plan"
    run "$1"
    check "$1: exit status not 0" [ "$status" != 0 ]
    check "$1: the error names plan line $2: $(cat "$work/$1.err")" \
        grep -q "^mmusim-guest: error: plan line $2: $3" "$work/$1.err"
}
malformed bad_spaces 3 "tokens must be separated by single spaces" \
    $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nop 0 mmap  0x200000000 0x4000 rw private\nend\n'
malformed bad_op 3 'unknown op "mmapx"' \
    $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nop 0 mmapx 0x200000000 0x4000 rw private\nend\n'
malformed bad_number 4 'length "0x4g00" is not a number' \
    $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nop 0 mmap 0x200000000 0x4000 rw private\nop 0 munmap 0x200000000 0x4g00\nend\n'
malformed bad_process 3 "process 1 is not running here" \
    $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nrun 1 load 1 0x200000000 0x0 1\nend\n'
malformed bad_header 1 'the plan must start with' $'mmusim-guest-plan 2\nend\n'
malformed no_end 3 'the plan does not end with "end"' $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\n'
malformed bad_order 3 'sysfs lines come before' \
    $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nsysfs /sys/kernel/mm/transparent_hugepage/enabled never\nend\n'
malformed bad_swap 2 "a swap line is: swap zram SIZE" $'mmusim-guest-plan 1\nswap disk 0x100000\nend\n'
malformed bad_swap_size 2 "the swap size must be a multiple of 4096" $'mmusim-guest-plan 1\nswap zram 0x1001\nend\n'
malformed swap_twice 3 "a second swap line" $'mmusim-guest-plan 1\nswap zram 0x100000\nswap zram 0x100000\nend\n'
malformed swap_order 3 "the swap line comes before the region" \
    $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nswap zram 0x100000\nend\n'
# A swap line after the sysfs lines is read; a test run (not PID 1) sets up no swap device.
cat >"$work/swapline.plan" <<EOF
mmusim-guest-plan 1
sysfs /sys/kernel/mm/transparent_hugepage/enabled never
swap zram 0x40000000
region heap $A 0x4000
op 0 mmap $A 0x4000 rw private
run 0 store 1 $A 0x1000 4
checkpoint 0 after
end
EOF
run swapline
check "swapline: the plan runs: $(cat "$work/swapline.err")" ran_ok swapline
check "swapline: the counters include vmstat/pswpout" grep -q '^counter vmstat/pswpout ' "$work/swapline.out"
malformed migrate_without_numa 4 'a plan that migrates needs a "numa N" line' \
    $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nop 0 mmap 0x200000000 0x4000 rw private\nop 0 migrate 0x200000000 0x4000\nend\n'
malformed numa_after_region 3 'the numa line comes after the sysfs lines and before the region lines' \
    $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nnuma 2\nend\n'
if [[ $(uname -m) != aarch64 ]]; then
    malformed ifetch_refused 3 "ifetch is only supported in the aarch64 build" \
        $'mmusim-guest-plan 1\nregion heap 0x200000000 0x4000\nrun 0 ifetch 4 0x200000000 0x0 1\nend\n'
fi

# 9. The aarch64 build (as scripts/linux-check makes it) and, with qemu-user, a run with ifetch.
if aarch64-linux-gnu-gcc -static -no-pie "${cflags[@]}" -o "$work/guest-arm64" "$src"; then
    pass
    if command -v qemu-aarch64 >/dev/null; then
        cat >"$work/ifetch.plan" <<EOF
mmusim-guest-plan 1
region code $A 0x4000
op 0 mmap $A 0x4000 rwx private
run 0 store 4 $A 0x1000 2
run 0 ifetch 4 $A 0x4 8
run 0 ifetch 4 $(printf '0x%x' $((A + 0x2000))) 0x1000 2
run 0 load 4 $A 0x1000 4
checkpoint 0 after-ifetch
op 0 fork 1
run 1 ifetch 4 $(printf '0x%x' $((A + 0x3000))) 0x0 1
checkpoint 1 child
end
EOF
        status=0
        qemu-aarch64 "$work/guest-arm64" "$work/ifetch.plan" >"$work/ifetch.out" 2>"$work/ifetch.err" || status=$?
        check "qemu-aarch64: the ifetch plan runs: $(cat "$work/ifetch.err")" ran_ok ifetch
        check "qemu-aarch64: three checkpoint reports" [ "$(grep -c '^ckpt ' "$work/ifetch.out")" = 3 ]
        printf 'mmusim-guest-plan 1\nregion code %s 0x4000\nop 0 mmap %s 0x4000 rw private\nrun 0 ifetch 4 %s 0x0 1\nend\n' \
            $A $A $A >"$work/noexec.plan"
        status=0
        qemu-aarch64 "$work/guest-arm64" "$work/noexec.plan" >"$work/noexec.out" 2>"$work/noexec.err" || status=$?
        check "qemu-aarch64: an ifetch from a non-executable page fails (status $status)" [ "$status" != 0 ]
        check "qemu-aarch64: the error names plan line 4: $(cat "$work/noexec.err")" \
            grep -q '^mmusim-guest: error: plan line 4 .*ifetch of 4 bytes at 0x200000000 got SIGSEGV' "$work/noexec.err"
    else
        echo "note: qemu-aarch64 is not installed: the aarch64 build is not run" >&2
    fi
else
    fail "aarch64 build of guest.c"
fi

echo "test_guest: $passes passed, $failures failed"
[[ $failures == 0 ]]
