#!/usr/bin/env bash
# Record a valgrind lackey memory trace of a command and store it gzip-compressed.
#
# usage: traces/capture.sh [-n MAX_RECORDS] [-o OUT.lackey.gz] [-O PROG_STDOUT] -- COMMAND [ARGS...]
#
#   -n MAX_RECORDS  keep only the first MAX_RECORDS record lines (I/L/S/M);
#                   the command is stopped once the cap is reached. Default: no cap.
#   -o OUT          output file (default: <command-name>.lackey.gz in the current dir)
#   -O FILE         where the command's own stdout goes (default: /dev/null)
#
# The trace goes through a dedicated file descriptor (valgrind --log-fd), so it
# is never mixed with the traced program's stdout/stderr. valgrind's own
# "==PID== ..." header lines are kept as they are. The output is written with
# "gzip -9 -n" so that the same trace always gives the same bytes.
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() {
    echo "usage: $prog [-n MAX_RECORDS] [-o OUT.lackey.gz] [-O PROG_STDOUT] -- COMMAND [ARGS...]" >&2
    exit 2
}

max=""
out=""
prog_stdout=/dev/null
while getopts ":n:o:O:h" opt; do
    case $opt in
        n) max=$OPTARG ;;
        o) out=$OPTARG ;;
        O) prog_stdout=$OPTARG ;;
        h) usage ;;
        :) die "option -$OPTARG needs an argument" ;;
        *) die "unknown option -$OPTARG (see -h)" ;;
    esac
done
shift $((OPTIND - 1))
[[ ${1:-} == -- ]] && shift
[[ $# -gt 0 ]] || die "no command given (usage: $prog [-n N] [-o OUT] -- COMMAND [ARGS...])"
if [[ -n $max && ! $max =~ ^[1-9][0-9]*$ ]]; then
    die "-n wants a positive integer, got '$max'"
fi

command -v valgrind >/dev/null 2>&1 || die "valgrind not found (apt-get install valgrind)"
command -v gzip >/dev/null 2>&1 || die "gzip not found (apt-get install gzip)"

[[ -n $out ]] || out="$(basename -- "$1").lackey.gz"
outdir=$(dirname -- "$out")
[[ -d $outdir ]] || die "output directory '$outdir' does not exist"

tmp="$out.tmp.$$"
workdir=$(mktemp -d "${TMPDIR:-/tmp}/capture.XXXXXX")
vgpid=""
gzpid=""
cleanup() {
    if [[ -n $vgpid ]]; then kill -KILL "$vgpid" 2>/dev/null && wait "$vgpid" 2>/dev/null; fi
    if [[ -n $gzpid ]]; then kill -TERM "$gzpid" 2>/dev/null || true; fi
    rm -f -- "$tmp"
    rm -rf -- "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fifo="$workdir/trace"
mkfifo "$fifo"

# Keep header lines and at most $max record lines. Lines are passed whole
# (awk works line by line), so the cut never falls mid-line. Exit status 3
# means the cap was reached.
filter() {
    if [[ -z $max ]]; then
        cat
    else
        awk -v max="$max" '
            /^(I | [LSM] )/ { if (++n > max) exit 3; print; next }
            { print }'
    fi
}

# valgrind writes its log (the trace) to fd 3 = the FIFO; the command's stdout
# goes to $prog_stdout, its stderr stays on ours, and it keeps our stdin
# (a background job would otherwise get /dev/null).
{ exec {stdin_fd}<&0; } 2>/dev/null || exec {stdin_fd}</dev/null
valgrind --tool=lackey --trace-mem=yes --vgdb=no --log-fd=3 -- "$@" \
    3>"$fifo" >"$prog_stdout" <&"$stdin_fd" {stdin_fd}<&- &
vgpid=$!
exec {stdin_fd}<&-

# The filter and gzip run in the background too, so that the script can
# react to signals (bash runs traps only between foreground commands).
{ st=0; filter <"$fifo" || st=$?; echo "$st" >"$workdir/filter.status"; } | gzip -9 -n >"$tmp" &
gzpid=$!

set +e
wait "$gzpid"
gz=$?
gzpid=""
fl=$(cat "$workdir/filter.status" 2>/dev/null || echo 1)
if [[ $fl -eq 3 ]]; then
    # Cap reached. valgrind does not die when its log pipe closes (it ignores
    # the write errors and keeps running), so stop it here.
    kill -KILL "$vgpid" 2>/dev/null
fi
wait "$vgpid" 2>/dev/null
vg=$?
vgpid=""
set -e

[[ $gz -eq 0 ]] || die "gzip failed (exit $gz)"
[[ $fl -eq 0 || $fl -eq 3 ]] || die "trace filter failed (exit $fl)"
if [[ $fl -eq 3 ]]; then
    echo "$prog: cap of $max records reached, command stopped" >&2
elif [[ $vg -ne 0 ]]; then
    echo "$prog: warning: valgrind/command exited with status $vg" >&2
fi

records=$(gzip -dc -- "$tmp" | grep -cE '^(I | [LSM] )' || true)
[[ $records -gt 0 ]] || die "trace is empty: no I/L/S/M records (did the command run?)"

mv -f -- "$tmp" "$out"
rm -rf -- "$workdir"
trap - EXIT
echo "$prog: wrote $records records to $out ($(wc -c <"$out") bytes)" >&2
