#!/usr/bin/env bash
# test.sh - every check CI runs, in order of cost:
#   (a) warnings-as-errors Release build in build/ (what setup.sh builds, so -O3-only
#       warnings are caught), ctest, and the unit runner on its own;
#   (b) ASan + UBSan build in build-asan/, ctest;
#   (c) TSan build in build-tsan/: the unit tests and the end-to-end tests;
#   (d) valgrind (definite and indirect leaks, memory errors) on the examples, the SQL
#       examples and help.
# Each step runs in a subshell with errexit, so a failing step is recorded and the
# rest still run; a step whose build failed is recorded as failed without running.
# The last line is "N passed, N failed" over the steps; the status is 1 if any failed.
# Set BUILD_ROOT to put the build trees somewhere other than the repository.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
results=()
passed=0
failed=0
declare -A outcome

# record NAME STATUS [NOTE]: notes the outcome of one step (STATUS 0 = passed).
record() {
    outcome[$1]=$2
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
        results+=("PASS  $1")
    else
        failed=$((failed + 1))
        results+=("FAIL  $1${3:+ ($3)}")
    fi
}

# step NAME COMMAND...: runs COMMAND in a subshell with errexit and records it.
# errexit is off around the subshell (and the subshell is not part of a || list)
# so that set -e inside it takes effect and a failure does not end this script.
step() {
    local name=$1 status
    shift
    log "$name"
    set +e
    (
        set -euo pipefail
        "$@"
    )
    status=$?
    set -e
    record "$name" "$status" "status $status"
}

# step_after DEP NAME COMMAND...: step, unless step DEP failed (then NAME fails unrun).
step_after() {
    local dep=$1 name=$2
    shift 2
    if [ "${outcome[$dep]}" -ne 0 ]; then
        log "$name: not run, $dep failed"
        record "$name" 1 "not run: $dep failed"
        return 0
    fi
    step "$name" "$@"
}

in_dir_ctest() {
    local dir=$1
    shift
    cd "$dir"
    ctest --output-on-failure -j2 --timeout 600 "$@"
}

# TSan needs its shadow memory at fixed addresses, which recent kernels' wider
# mmap randomisation can take; running with ASLR off (setarch -R) avoids that.
tsan_prefix=()
choose_tsan_prefix() {
    if ! "$BUILD_ROOT/build-tsan/spate" version >"$scratch/tsan-probe" 2>&1 &&
        grep -q 'unexpected memory mapping' "$scratch/tsan-probe"; then
        tsan_prefix=(setarch "$(uname -m)" -R)
    fi
}

# Every unit test starts worker threads, so the whole suite runs under TSan.
tsan_unit_tests() {
    "${tsan_prefix[@]}" "$BUILD_ROOT/build-tsan/tests/spate-tests"
}

tsan_e2e_tests() {
    cd "$BUILD_ROOT/build-tsan"
    "${tsan_prefix[@]}" ctest --output-on-failure --timeout 600 -R '^e2e_'
}

valgrind_check() {
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=1 "$BUILD_ROOT/build/spate" "$@"
}

# valgrind_example NAME DATA_DIR: the example, bounded, on a copy of its data.
# valgrind_checkpointed: telemetry with checkpoints, run twice on one checkpoint
# directory, so the second run restores (the restore path is checked too).
valgrind_checkpointed() {
    local dir=$scratch/valgrind-ckpt
    mkdir -p "$dir"
    cp -r "$SPATE_ROOT/examples/data/telemetry" "$dir/in"
    for run in 1 2; do
        valgrind_check example telemetry --once --input "$dir/in" --output "$dir/out" \
            --interval 100 --checkpoint-dir "$dir/ckpt" --checkpoint-interval 200 \
            >"$dir/stdout-$run"
    done
}

# valgrind_sql: every examples/sql script with `spate run --once` (they name their
# inputs relative to the repository root, so they run from a copy of the examples).
valgrind_sql() {
    local dir=$scratch/valgrind-sql script
    mkdir -p "$dir/examples/sql"
    cp -r "$SPATE_ROOT/examples/data" "$dir/examples/data"
    cp -r "$SPATE_ROOT/examples/sql/data" "$dir/examples/sql/data"
    for script in "$SPATE_ROOT"/examples/sql/*.sql; do
        (cd "$dir" && valgrind_check run --once "$script") >"$dir/stdout" 2>"$dir/stderr" ||
            { cat "$dir/stderr" >&2; return 1; }
    done
}

valgrind_example() {
    local dir=$scratch/valgrind-$1
    mkdir -p "$dir"
    cp -r "$SPATE_ROOT/examples/data/$2" "$dir/in"
    valgrind_check example "$1" --once --input "$dir/in" --output "$dir/out" --interval 100 \
        >"$dir/stdout"
}

print_summary() {
    log "summary"
    printf '%s\n' "${results[@]}"
    echo "$passed passed, $failed failed"
}

install_missing "${SPATE_PACKAGES[@]}"
export TSAN_OPTIONS=halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1

step "build (-Werror)" build "$BUILD_ROOT/build" -DCMAKE_BUILD_TYPE=Release \
    -DSPATE_WERROR=ON -DSPATE_SANITIZE=
step_after "build (-Werror)" "ctest" in_dir_ctest "$BUILD_ROOT/build"
step_after "build (-Werror)" "unit runner" "$BUILD_ROOT/build/tests/spate-tests"

step "build (asan+ubsan)" build "$BUILD_ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug \
    -DSPATE_SANITIZE=address,undefined
step_after "build (asan+ubsan)" "ctest (asan+ubsan)" in_dir_ctest "$BUILD_ROOT/build-asan"

step "build (tsan)" build "$BUILD_ROOT/build-tsan" -DCMAKE_BUILD_TYPE=Debug \
    -DSPATE_SANITIZE=thread
if [ "${outcome["build (tsan)"]}" -eq 0 ]; then
    choose_tsan_prefix
fi
step_after "build (tsan)" "unit tests (tsan)" tsan_unit_tests
step_after "build (tsan)" "e2e tests (tsan)" tsan_e2e_tests

step_after "build (-Werror)" "valgrind: example telemetry" valgrind_example telemetry telemetry
step_after "build (-Werror)" "valgrind: example wordcount-dir" valgrind_example wordcount-dir words
step_after "build (-Werror)" "valgrind: example device-counts" valgrind_example device-counts devices
step_after "build (-Werror)" "valgrind: telemetry with checkpoints" valgrind_checkpointed
step_after "build (-Werror)" "valgrind: SQL examples" valgrind_sql
step_after "build (-Werror)" "valgrind: help" valgrind_check help

print_summary
[ "$failed" -eq 0 ]
