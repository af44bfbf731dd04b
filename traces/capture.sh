#!/usr/bin/env bash
# Record the memory trace of a program: an x86_64 program under valgrind lackey,
# or an arm64 program from Debian's archive under qemu-user with our TCG plugin.
#
# usage: traces/capture.sh [--arch x86_64|arm64] [-n MAX_RECORDS] [-o OUT] [-O PROG_STDOUT]
#                          [-i STDIN_FILE] [-z gzip|zstd|xz] -- PROGRAM [ARGS...]
#
#   --arch ARCH     x86_64 (valgrind lackey; the default on an x86_64 host) or arm64
#                   (qemu-aarch64 with traces/plugin/mmusim_trace.c; the default elsewhere)
#   -n MAX_RECORDS  keep only the first MAX_RECORDS record lines (I/L/S/M); the program
#                   is stopped once the cap is reached. Default: no cap.
#   -o OUT          output file (default: <program-name>.lackey.gz for x86_64,
#                   <program-name>.arm64.lackey.zst for arm64, in the current directory)
#   -O FILE         where the program's own stdout goes (default: /dev/null)
#   -i FILE         the program's stdin (default: the script's stdin)
#   -z METHOD       compression: gzip (x86_64 default), zstd (arm64 default) or xz
#
# x86_64: the trace goes through a dedicated file descriptor (valgrind --log-fd), so it
# is never mixed with the traced program's stdout/stderr. valgrind's own "==PID== ..."
# header lines and its --trace-syscalls=yes lines ("SYSCALL[...] ...") are kept as they are.
#
# arm64: PROGRAM is a command name (resolved to the Debian package that owns it, on this
# host with dpkg -S, else in the archive's Contents-arm64 index) or an absolute path. The
# program and its libraries come from Debian bookworm arm64 packages fetched with apt-get
# under a private apt state into a cache (${MMUSIM_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mmusim});
# the host's dpkg and apt state are never touched. traces/README.md describes the trace.
#
# The output is written in one go at the end (OUT.tmp.PID until then), compressed so that
# the same trace always gives the same bytes.
set -euo pipefail

prog=${0##*/}
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() {
    echo "usage: $prog [--arch x86_64|arm64] [-n MAX_RECORDS] [-o OUT] [-O PROG_STDOUT]" \
         "[-i STDIN_FILE] [-z gzip|zstd|xz] -- PROGRAM [ARGS...]" >&2
    exit 2
}

case $(uname -m) in
    x86_64) arch=x86_64 ;;
    *) arch=arm64 ;;
esac
max=""
out=""
prog_stdout=/dev/null
prog_stdin=""
zip=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --arch) [[ $# -ge 2 ]] || die "option --arch needs an argument"; arch=$2; shift 2 ;;
        --arch=*) arch=${1#--arch=}; shift ;;
        -n|-o|-O|-i|-z)
            [[ $# -ge 2 ]] || die "option $1 needs an argument"
            case $1 in
                -n) max=$2 ;; -o) out=$2 ;; -O) prog_stdout=$2 ;; -i) prog_stdin=$2 ;; -z) zip=$2 ;;
            esac
            shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -?*) die "unknown option $1 (see -h)" ;;
        *) break ;;
    esac
done
[[ $# -gt 0 ]] || die "no command given (usage: $prog [--arch ARCH] [-n N] [-o OUT] -- PROGRAM [ARGS...])"
if [[ -n $max && ! $max =~ ^[1-9][0-9]*$ ]]; then
    die "-n wants a positive integer, got '$max'"
fi
case $arch in
    x86_64|amd64) arch=x86_64 ;;
    arm64|aarch64) arch=arm64 ;;
    *) die "--arch wants x86_64 or arm64, got '$arch'" ;;
esac
if [[ $arch == x86_64 && $(uname -m) != x86_64 ]]; then
    die "--arch x86_64 needs an x86_64 host (valgrind runs the program natively)"
fi
[[ -n $zip ]] || { [[ $arch == arm64 ]] && zip=zstd || zip=gzip; }
case $zip in
    gzip) ext=gz; compress=(gzip -9 -n) ;;
    zstd) ext=zst; compress=(zstd -q -T1 -6) ;;
    xz) ext=xz; compress=(xz -q -T1 -6) ;;
    *) die "-z wants gzip, zstd or xz, got '$zip'" ;;
esac
if [[ -n $prog_stdin && ! -r $prog_stdin ]]; then
    die "-i: cannot read '$prog_stdin'"
fi

# Installs the Debian packages that provide missing host commands (as root; otherwise
# says what to install). Arguments: command=package pairs.
need_host_tools() {
    local pair missing=() names=()
    for pair in "$@"; do
        command -v "${pair%%=*}" >/dev/null 2>&1 || { missing+=("${pair#*=}"); names+=("${pair%%=*}"); }
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        die "${names[*]} not found (apt-get install ${missing[*]})"
    fi
    echo "$prog: installing ${missing[*]} (for ${names[*]})" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
            || die "could not install ${missing[*]}"
    fi
}

case $zip in
    gzip) need_host_tools gzip=gzip ;;
    zstd) need_host_tools zstd=zstd ;;
    xz) need_host_tools xz=xz-utils ;;
esac

# ---------------------------------------------------------------- x86_64: valgrind lackey

capture_x86_64() {
    command -v valgrind >/dev/null 2>&1 || die "valgrind not found (apt-get install valgrind)"

    [[ -n $out ]] || out="$(basename -- "$1").lackey.$ext"
    local outdir
    outdir=$(dirname -- "$out")
    [[ -d $outdir ]] || die "output directory '$outdir' does not exist"

    tmp="$out.tmp.$$"
    workdir=$(mktemp -d "${TMPDIR:-/tmp}/capture.XXXXXX")
    local fifo="$workdir/trace"
    mkfifo "$fifo"

    # valgrind writes its log (the trace and the syscall lines) to fd 3 = the FIFO; the
    # command's stdout goes to $prog_stdout, its stderr stays on ours, and it reads
    # -i's file or our stdin (a background job would otherwise get /dev/null).
    if [[ -n $prog_stdin ]]; then
        exec {stdin_fd}<"$prog_stdin"
    else
        { exec {stdin_fd}<&0; } 2>/dev/null || exec {stdin_fd}</dev/null
    fi
    valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --vgdb=no --log-fd=3 -- "$@" \
        3>"$fifo" >"$prog_stdout" <&"$stdin_fd" {stdin_fd}<&- &
    runpid=$!
    exec {stdin_fd}<&-

    # The filter and the compressor run in the background too, so that the script can
    # react to signals (bash runs traps only between foreground commands).
    { st=0; filter <"$fifo" || st=$?; echo "$st" >"$workdir/filter.status"; } | "${compress[@]}" >"$tmp" &
    zpid=$!

    set +e
    wait "$zpid"
    local zs=$?
    zpid=""
    local fl
    fl=$(cat "$workdir/filter.status" 2>/dev/null || echo 1)
    if [[ $fl -eq 3 ]]; then
        # Cap reached. valgrind does not die when its log pipe closes (it ignores
        # the write errors and keeps running), so stop it here.
        kill -KILL "$runpid" 2>/dev/null
    fi
    wait "$runpid" 2>/dev/null
    local vg=$?
    runpid=""
    set -e

    [[ $zs -eq 0 ]] || die "$zip failed (exit $zs)"
    [[ $fl -eq 0 || $fl -eq 3 ]] || die "trace filter failed (exit $fl)"
    if [[ $fl -eq 3 ]]; then
        echo "$prog: cap of $max records reached, command stopped" >&2
    elif [[ $vg -ne 0 ]]; then
        echo "$prog: warning: valgrind/command exited with status $vg" >&2
    fi

    records=$("$zip" -dc -- "$tmp" | grep -cE '^(I | [LSM] )' || true)
    [[ $records -gt 0 ]] || die "trace is empty: no I/L/S/M records (did the command run?)"
}

# Keep header and syscall lines and at most $max record lines. Lines are passed whole
# (awk works line by line), so the cut never falls mid-line. Exit status 3 means the cap
# was reached.
filter() {
    if [[ -z $max ]]; then
        cat
    else
        awk -v max="$max" '
            /^(I | [LSM] )/ { if (++n > max) exit 3; print; next }
            { print }'
    fi
}

tmp=""
workdir=""
runpid=""
zpid=""
link_to_clean=""
cleanup() {
    [[ -z $link_to_clean ]] || rm -f -- "$link_to_clean"
    if [[ -n $runpid ]]; then kill -KILL "$runpid" 2>/dev/null && wait "$runpid" 2>/dev/null; fi
    if [[ -n $zpid ]]; then kill -TERM "$zpid" 2>/dev/null || true; fi
    [[ -z $tmp ]] || rm -f -- "$tmp"
    [[ -z $workdir ]] || rm -rf -- "$workdir"
}

# ---------------------------------------------------------------- arm64: qemu-user

cache=${MMUSIM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mmusim}
apt_dir=$cache/apt-arm64
suite=bookworm
mirror=http://deb.debian.org/debian
security_mirror=http://deb.debian.org/debian-security
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# Packages that only serve package installation (maintainer scripts, debconf questions,
# alternatives): never loaded by a running program, and qemu-user cannot run another arm64
# program from it (execve) anyway. Left out of a sysroot unless asked for by name.
skip_packages=" debconf cdebconf dpkg perl-base install-info init-system-helpers ucf lsb-base
 sysvinit-utils adduser debianutils sensible-utils usrmerge usr-is-merged "

# apt-get/apt-cache with the private arm64 state.
papt() { APT_CONFIG=$apt_dir/apt.conf "$@"; }

setup_private_apt() {
    mkdir -p "$apt_dir"/state/lists/partial "$apt_dir"/cache/archives/partial \
        "$apt_dir"/etc/apt.conf.d "$apt_dir"/etc/preferences.d "$apt_dir"/etc/sources.list.d
    [[ -f $apt_dir/state/status ]] || : >"$apt_dir/state/status"
    cat >"$apt_dir/etc/sources.list" <<EOF
deb [arch=arm64 signed-by=$keyring] $mirror $suite main
deb [arch=arm64 signed-by=$keyring] $mirror $suite-updates main
deb [arch=arm64 signed-by=$keyring] $security_mirror $suite-security main
EOF
    # Everything apt reads or writes is under $apt_dir: the empty status file makes the
    # dependency closure that of an empty arm64 system; the host's apt.conf.d is not read.
    cat >"$apt_dir/apt.conf" <<EOF
Dir::State "$apt_dir/state";
Dir::State::status "$apt_dir/state/status";
Dir::Cache "$apt_dir/cache";
Dir::Etc::sourcelist "$apt_dir/etc/sources.list";
Dir::Etc::sourceparts "$apt_dir/etc/sources.list.d";
Dir::Etc::parts "$apt_dir/etc/apt.conf.d";
Dir::Etc::preferences "$apt_dir/etc/preferences";
Dir::Etc::preferencesparts "$apt_dir/etc/preferences.d";
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
APT::Install-Recommends "false";
APT::Sandbox::User "$(id -un)";
Acquire::Languages "none";
EOF
    if ! compgen -G "$apt_dir/state/lists/*_Packages*" >/dev/null; then
        echo "$prog: fetching the Debian $suite arm64 package lists into $apt_dir" >&2
        papt apt-get update -q >&2 || die "apt-get update (private arm64 state) failed"
    fi
}

# The arm64 archive's file index, downloaded once and checked against the signed Release.
contents_index() {
    local file=$cache/Contents-arm64-$suite.gz
    if [[ ! -s $file ]]; then
        local release hash
        release=$(compgen -G "$apt_dir/state/lists/*_dists_${suite}_InRelease" | head -n1)
        hash=$(awk '$3 == "main/Contents-arm64.gz" && length($1) == 64 { print $1 }' "$release")
        [[ -n $hash ]] || die "no main/Contents-arm64.gz in $release"
        echo "$prog: fetching the $suite arm64 Contents index (11 MB) into $cache" >&2
        /usr/lib/apt/apt-helper -o APT::Sandbox::User="$(id -un)" download-file \
            "$mirror/dists/$suite/main/Contents-arm64.gz" "$file.part" "SHA256:$hash" >&2 \
            || { rm -f -- "$file.part"; die "could not fetch Contents-arm64.gz"; }
        mv -f -- "$file.part" "$file"
    fi
    echo "$file"
}

# Sets pkg (Debian package) and guest_prog (the program's path in the guest) for a command
# name or absolute path; sets local_prog instead for an arm64 ELF file outside any package.
resolve_program() {
    local name=$1 cand owner hit contents d path cands
    pkg=""
    guest_prog=""
    local_prog=""
    if [[ $name == /* ]]; then
        if [[ -f $name ]] && is_arm64_elf "$name"; then
            local_prog=$name
            return 0
        fi
        cands=("$name")
    elif [[ $name == */* ]]; then
        die "PROGRAM is a command name or an absolute path, got '$name'"
    else
        cands=()
        for d in /usr/bin /bin /usr/sbin /sbin /usr/games; do cands+=("$d/$name"); done
    fi
    # 1. the host's dpkg database (read only)
    for cand in "${cands[@]}"; do
        [[ -e $cand ]] || continue
        for path in "$cand" "$(readlink -f -- "$cand")"; do
            owner=$(dpkg-query -S -- "$path" 2>/dev/null | head -n1) || true
            if [[ -n $owner && $owner == *": $path" ]]; then
                pkg=${owner%%: *}
                pkg=${pkg%%,*}
                pkg=${pkg%%:*}
                guest_prog=$path
                return 0
            fi
        done
    done
    # 2. the arm64 archive's Contents index
    contents=$(contents_index)
    for cand in "${cands[@]}"; do
        hit=$(zcat -- "$contents" | awk -v p="${cand#/}" '$1 == p { print $NF; exit }')
        if [[ -n $hit ]]; then
            hit=${hit%%,*}
            pkg=${hit##*/}
            guest_prog=$cand
            return 0
        fi
    done
    return 1
}

# The guest path that $2 leads to inside the tree $1 after symbolic links (followed as the
# guest would: absolute targets are inside $1).
follow_links() {
    local root=$1 path=$2 target i
    for ((i = 0; i < 16; ++i)); do
        if [[ -L $root$path ]]; then
            target=$(readlink -- "$root$path")
            [[ $target == /* ]] || target=$(dirname -- "$path")/$target
            path=$(realpath -m -s -- "$target")
        elif [[ -f $root$path ]]; then
            echo "$path"
            return 0
        else
            return 1
        fi
    done
    return 1
}

is_arm64_elf() {
    # ELF magic, 64-bit, little-endian, e_machine 183 (EM_AARCH64)
    [[ $(od -An -tx1 -N20 -- "$1" 2>/dev/null | tr -d ' \n') == 7f454c460201* ]] &&
        [[ $(od -An -tx1 -j18 -N2 -- "$1" | tr -d ' \n') == b700 ]]
}

not_in_archive() {
    rm -f -- "$tmp"
    echo "$prog: error: '$1' is not a program of Debian $suite's arm64 archive: $2" \
         "An arm64 trace needs a command that a Debian package ships (a name found on this" \
         "host with dpkg -S or in the archive's Contents-arm64 index, e.g. sort, ls, xz) or" \
         "the absolute path of an arm64 ELF file. Nothing was written." >&2
    exit 1
}

# The packages apt would install for $1 on an empty arm64 system (Depends and
# Pre-Depends, alternatives and virtual packages resolved as apt resolves them).
closure() {
    local sim
    sim=$(papt apt-get -s -q install --no-install-recommends "$@" 2>&1) || {
        echo "$sim" | tail -n 5 >&2
        return 1
    }
    echo "$sim" | awk '$1 == "Inst" { print $2 }' | sort -u
}

# Builds (once) the sysroot of package $1: its closure unpacked with dpkg-deb -x, libc-bin
# for an ld.so.cache made by the arm64 ldconfig. One sysroot per package, so that a trace
# does not depend on what else was fetched before.
# Several packages (the libraries of a program outside the archive) share one sysroot,
# named after them all.
prepare_sysroot() {
    local want=$1 wanted=("$@")
    local name
    name=$(IFS=+; echo "${wanted[*]}")
    sysroot=$cache/arm64-sysroot/$name
    [[ -f $sysroot/.mmusim-packages ]] && return 0
    local pkgs p deb list=()
    pkgs=$(closure "${wanted[@]}" libc-bin) || die "apt could not resolve the dependencies of ${wanted[*]}"
    for p in $pkgs; do
        if [[ " ${wanted[*]} " == *" $p "* || $skip_packages != *" $p "* ]]; then list+=("$p"); fi
    done
    echo "$prog: fetching ${#list[@]} arm64 packages for $name: ${list[*]}" >&2
    (cd "$apt_dir/cache/archives" && papt apt-get download -q "${list[@]}" >&2) \
        || die "apt-get download failed for ${list[*]}"
    rm -rf -- "$sysroot.part"
    mkdir -p "$sysroot.part"
    for p in "${list[@]}"; do
        deb=$(compgen -G "$apt_dir/cache/archives/${p}_*.deb" | sort -V | tail -n1) || true
        [[ -n $deb ]] || die "no .deb for $p in $apt_dir/cache/archives"
        dpkg-deb -x "$deb" "$sysroot.part"
        echo "${deb##*/}" >>"$sysroot.part/.mmusim-packages"
    done
    # The host's /etc/ld.so.cache (x86_64) must not stand in for the guest's.
    if [[ -x $sysroot.part/sbin/ldconfig ]]; then
        qemu-aarch64 -L "$sysroot.part" "$sysroot.part/sbin/ldconfig" -X \
            -C "$sysroot.part/etc/ld.so.cache" -f "$sysroot.part/etc/ld.so.conf" \
            || die "ldconfig (arm64) failed in $sysroot.part"
    fi
    rm -rf -- "$sysroot"
    mv -- "$sysroot.part" "$sysroot"
}

# The plugin: $MMUSIM_TRACE_PLUGIN (the CMake build's), else built here into the cache.
plugin_path() {
    if [[ -n ${MMUSIM_TRACE_PLUGIN:-} ]]; then
        [[ -f $MMUSIM_TRACE_PLUGIN ]] || die "MMUSIM_TRACE_PLUGIN=$MMUSIM_TRACE_PLUGIN: no such file"
        echo "$MMUSIM_TRACE_PLUGIN"
        return 0
    fi
    local src=$script_dir/plugin key so
    key=$(cat "$src"/*.c "$src"/*.h | sha256sum | cut -c1-16)
    so=$cache/plugin/mmusim_trace-$key.so
    if [[ ! -f $so ]]; then
        mkdir -p "$cache/plugin"
        cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$so.tmp.$$" "$src/mmusim_trace.c" -lpthread \
            || die "could not build the qemu plugin from $src"
        mv -f -- "$so.tmp.$$" "$so"
    fi
    echo "$so"
}

capture_arm64() {
    need_host_tools qemu-aarch64=qemu-user cc=gcc dpkg-deb=dpkg flock=util-linux

    local name=${1##*/}
    [[ -n $out ]] || out="$name.arm64.lackey.$ext"
    local outdir
    outdir=$(dirname -- "$out")
    [[ -d $outdir ]] || die "output directory '$outdir' does not exist"
    tmp="$out.tmp.$$"

    mkdir -p "$cache"
    exec {lock_fd}>"$cache/.lock"
    flock "$lock_fd"
    setup_private_apt
    local pkg guest_prog local_prog sysroot
    resolve_program "$1" || not_in_archive "$1" "no package of the archive ships it."
    if [[ -z $local_prog ]]; then
        papt apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1 ||
            not_in_archive "$1" "it belongs to the package '$pkg', which has no arm64 build."
        prepare_sysroot "$pkg"
        guest_prog=$(follow_links "$sysroot" "$guest_prog") ||
            not_in_archive "$1" "the arm64 package $pkg has no $guest_prog."
        is_arm64_elf "$sysroot$guest_prog" ||
            die "$guest_prog of the arm64 package $pkg is not an arm64 ELF program (a script?)"
    else
        # An arm64 program of no package: the packages of the libraries it needs (those
        # the arm64 dynamic loader does not find in libc6's sysroot, looked up in the
        # Contents index), with libc6.
        prepare_sysroot libc6
        local lib hit libpkgs=(libc6) contents
        for lib in $(qemu-aarch64 -E LD_TRACE_LOADED_OBJECTS=1 -L "$sysroot" \
                         "$sysroot/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" "$local_prog" 2>/dev/null |
                     awk '$2 == "=>" && $3 == "not" { print $1 }'); do
            contents=$(contents_index)
            hit=$(zcat -- "$contents" | awk -v a="usr/lib/aarch64-linux-gnu/$lib" -v b="lib/aarch64-linux-gnu/$lib" \
                  '$1 == a || $1 == b { print $NF; exit }') || true  # awk's early exit ends zcat
            [[ -n $hit ]] || not_in_archive "$1" "it needs $lib, which no package of the archive ships."
            hit=${hit%%,*}
            libpkgs+=("${hit##*/}")
        done
        [[ ${#libpkgs[@]} -eq 1 ]] || prepare_sysroot $(printf '%s\n' "${libpkgs[@]}" | sort -u)
    fi
    local plugin
    plugin=$(plugin_path)
    exec {lock_fd}>&-

    workdir=$(mktemp -d "${TMPDIR:-/tmp}/capture.XXXXXX")
    # The guest sees the sysroot under a name of fixed length (the program's path is on
    # its stack: AT_EXECFN), so that where the cache lives does not move the stack.
    local root_link
    root_link=$(mktemp -u /tmp/mmusim-root.XXXXXXXX)
    ln -s -- "$sysroot" "$root_link"
    local real_root
    real_root=$(cd -- "$sysroot" && pwd -P)
    link_to_clean=$root_link
    local fifo=$workdir/trace
    mkfifo "$fifo"

    local guest_exe argv0
    if [[ -n $local_prog ]]; then
        guest_exe=$local_prog
        argv0=$local_prog
    else
        guest_exe=$root_link$guest_prog
        argv0=$1
    fi
    local plugin_args="out=$fifo,pagelog=$workdir/page.log,sysroot=$real_root,stats=$workdir/stats"
    [[ -z $max ]] || plugin_args+=",max=$max"
    # No address space randomisation for qemu, and (where allowed) a new PID namespace,
    # in which qemu and so the guest get PID 2 and their threads 3, 4, ... every time.
    # In the same namespace the host's file system is read-only for the guest (a mount
    # namespace of its own; /tmp and /dev stay writable): qemu's -L falls back to host paths
    # for files the sysroot lacks, and a program must not change the host's files (or the
    # cached sysroot) through it, e.g. an interpreter rewriting its byte-code caches.
    local isolate=()
    if unshare --pid --mount --fork --kill-child true 2>/dev/null; then
        isolate=(unshare --pid --mount --fork --kill-child sh -c '
            mount --make-rprivate / 2>/dev/null
            for d in /usr /etc /bin /sbin /lib /lib32 /lib64 /libx32 /opt /var /srv /home /root; do
                [ -d "$d" ] && [ ! -L "$d" ] && mount --bind "$d" "$d" 2>/dev/null && mount -o remount,bind,ro "$d" 2>/dev/null
            done
            "$@"; exit $?' sh)
    elif unshare --pid --fork --kill-child true 2>/dev/null; then
        # In a chroot whose root is no mount point, a mount namespace cannot make its mounts
        # private: a PID namespace alone still gives the same PIDs every time.
        isolate=(unshare --pid --fork --kill-child)
        echo "$prog: note: no mount namespace here (is this a chroot?): the program can write to the host's" \
            "files through qemu's fallback to host paths" >&2
    else
        echo "$prog: note: no PID or mount namespace (unshare needs root): PIDs in @sys lines vary, and the" \
            "program can write to the host's files through qemu's fallback to host paths" >&2
    fi
    isolate+=(env -i PATH=/usr/bin:/bin LC_ALL=C)
    setarch "$(uname -m)" -R true 2>/dev/null && isolate+=(setarch "$(uname -m)" -R)

    "${compress[@]}" <"$fifo" >"$tmp" &
    zpid=$!
    if [[ -n $prog_stdin ]]; then
        exec {stdin_fd}<"$prog_stdin"
    else
        { exec {stdin_fd}<&0; } 2>/dev/null || exec {stdin_fd}</dev/null
    fi
    # A fixed environment (its strings are on the guest's stack), no address space
    # randomisation, a fixed seed for qemu's random numbers (AT_RANDOM, getrandom).
    # Only fds 0-2 go to qemu (guest fds are host fds: any other inherited descriptor
    # would move the numbers the guest's files get).
    (
        exec <&"$stdin_fd" >"$prog_stdout"
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if [[ $fd -gt 2 ]]; then eval "exec $fd>&-"; fi
        done
        exec "${isolate[@]}" qemu-aarch64 -L "$root_link" -seed 1 -0 "$argv0" -d page \
            -D "$workdir/page.log" -plugin "$plugin,$plugin_args" "$guest_exe" "${@:2}"
    ) &
    runpid=$!
    exec {stdin_fd}<&-

    set +e
    wait "$runpid"
    local qs=$?
    runpid=""
    # If qemu ended before its plugin opened the FIFO, the compressor still waits in
    # open(): a read-write open never blocks, and its close gives the compressor EOF.
    exec {release_fd}<>"$fifo"
    exec {release_fd}>&-
    wait "$zpid"
    local zs=$?
    zpid=""
    set -e
    rm -f -- "$root_link"
    link_to_clean=""

    [[ $zs -eq 0 ]] || die "$zip failed (exit $zs)"
    [[ -f $workdir/stats ]] || die "qemu-aarch64 failed (exit $qs) before the trace was complete"
    records=$(awk '$1 == "records" { print $2 }' "$workdir/stats")
    if [[ $(awk '$1 == "capped" { print $2 }' "$workdir/stats") == 1 ]]; then
        echo "$prog: cap of $max records reached, program stopped" >&2
    elif [[ $qs -ne 0 ]]; then
        echo "$prog: warning: the program exited with status $qs" >&2
    fi
    [[ $records -gt 0 ]] || die "trace is empty: no I/L/S records"
}

records=0
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [[ $arch == x86_64 ]]; then
    capture_x86_64 "$@"
else
    capture_arm64 "$@"
fi

mv -f -- "$tmp" "$out"
tmp=""
rm -rf -- "$workdir"
trap - EXIT
echo "$prog: wrote $records records to $out ($(wc -c <"$out") bytes)" >&2
