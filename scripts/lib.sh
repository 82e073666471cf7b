# shellcheck shell=bash
# lib.sh - what setup.sh and test.sh share: paths, package installation, building.
# Sourced, not run. Expects `set -euo pipefail` from the caller.

# The repository (this file's parent directory) and where build trees go: the
# repository unless BUILD_ROOT says otherwise (to build out of a shared tree).
SPATE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_ROOT=${BUILD_ROOT:-$SPATE_ROOT}

# The Debian packages a build and the tests need (read by the sourcing scripts);
# libsqlite3-dev is the oracle of the window and SQL property tests; libssl-dev and
# libxxhash-dev serve SQL's hash functions, libedit-dev the `spate sql` shell,
# tzdata the session time zones.
# shellcheck disable=SC2034
SPATE_PACKAGES=(build-essential cmake libedit-dev libsqlite3-dev libssl-dev libxxhash-dev
    pkg-config python3 tzdata valgrind)

log() {
    printf '\n==> %s\n' "$*"
}

# is_installed PACKAGE: true when dpkg has the package fully installed (not merely
# known, or removed with its configuration left behind).
is_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

# install_missing PACKAGE...: installs with apt-get those not installed yet; runs
# apt-get update only when something is missing, and sudo only when not root.
install_missing() {
    local missing=() pkg
    for pkg in "$@"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    log "installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "error: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# build DIR CMAKE_ARGS...: configures and builds the repository in DIR.
build() {
    local dir=$1
    shift
    cmake -S "$SPATE_ROOT" -B "$dir" "$@"
    cmake --build "$dir" -j2
}
