#!/bin/sh
# Installs what mmusim needs on Debian 12 (only the packages that are missing), then
# configures and builds it in ./build. Run from the repository root, as root (or with sudo
# rights for apt-get). Safe to run again: it only rebuilds what changed.
#   sh scripts/setup.sh        what the build needs
#   sh scripts/setup.sh test   that, and what the tests need beyond it: a headless browser
#                              (Debian's chromium) and a font for the report pages it loads,
#                              qemu-user and zstd for the arm64 capture tests (traces/capture.sh),
#                              and what scripts/linux-check needs: python3, qemu-system-arm,
#                              gdb-multiarch and the aarch64 cross compiler with its libc
set -eu

cd "$(dirname "$0")/.."

packages="cmake make g++ pkg-config libsystemc-dev libspdlog-dev nlohmann-json3-dev libcli11-dev \
libgtest-dev libbenchmark-dev zlib1g-dev liblzma-dev libzstd-dev"
case "${1:-}" in
    "") ;;
    test) packages="$packages chromium fonts-dejavu-core qemu-user zstd python3 qemu-system-arm gdb-multiarch \
gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
    *) echo "setup: unknown argument \"$1\"; use no argument (build) or \"test\" (build and test tools)" >&2; exit 2 ;;
esac

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
