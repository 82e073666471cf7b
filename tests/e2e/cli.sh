#!/usr/bin/env bash
# cli.sh SPATE SRC_DIR - the command line: help for every command, version,
# exit status 2 with a hint for every kind of usage error.
#
# The commands checked are the ones `spate --help` lists and the examples the ones
# `spate example --list` lists, so a new command or example is covered without
# editing this file; the version is read from include/spate.h.

# Checks read `step && step || fail ...`: fail is meant to run when either step fails.
# shellcheck disable=SC2015
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect STATUS ARGS...: runs spate ARGS, leaves its output in $tmp/out and $tmp/err.
expect() {
    local want=$1 got=0
    shift
    timeout 20 "$spate" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || got=$?
    if [ "$got" -ne "$want" ]; then
        echo "  spate $* exited $got, expected $want; stderr: $(head -c 400 "$tmp/err")" >&2
        return 1
    fi
}

# A usage error: status 2, a "spate: " message and a hint to --help.
expect_usage_error() {
    expect 2 "$@" || {
        fail "spate $*: not a usage error"
        return 0
    }
    grep -q '^spate: ' "$tmp/err" || fail "spate $*: no 'spate: ' error message"
    grep -q -- '--help' "$tmp/err" || fail "spate $*: no hint to --help"
}

expect 0 --help && grep -q 'Usage' "$tmp/out" || fail "spate --help shows no usage"
commands=$(sed -n '/^Commands:/,/^$/p' "$tmp/out" | awk 'NR > 1 && NF { print $1 }')
[ -n "$commands" ] || fail "spate --help lists no commands"
for required in help version example; do
    grep -qx "$required" <<<"$commands" || fail "spate --help does not list '$required'"
done

for cmd in $commands; do
    expect 0 "$cmd" --help && grep -q "spate $cmd" "$tmp/out" || fail "spate $cmd --help"
    cp "$tmp/out" "$tmp/dash-help"
    expect 0 help "$cmd" && cmp -s "$tmp/out" "$tmp/dash-help" ||
        fail "spate help $cmd differs from spate $cmd --help"
done
expect 0 help && grep -q 'Usage' "$tmp/out" || fail "spate help shows no usage"

expect 0 help connectors || fail "spate help connectors"
for connector in generator stdin socket files console blackhole; do
    grep -q "^  $connector" "$tmp/out" || fail "spate help connectors omits $connector"
done

version=$(sed -n 's/^#define SPATE_VERSION "\(.*\)"$/\1/p' "$src/include/spate.h")
expect 0 version && [ "$(cat "$tmp/out")" = "spate $version" ] ||
    fail "spate version printed '$(cat "$tmp/out")', expected 'spate $version'"

expect 0 example --list || fail "spate example --list"
examples=$(awk '{ print $1 }' "$tmp/out")
grep -qx telemetry <<<"$examples" || fail "spate example --list omits telemetry"
for ex in $examples; do
    expect 0 example "$ex" --help && grep -q -- '--interval' "$tmp/out" ||
        fail "spate example $ex --help does not show the common options"
done

expect 2 && grep -q 'Usage' "$tmp/err" || fail "spate without a command: no usage on stderr"
expect_usage_error no-such-command
expect_usage_error help no-such-topic
expect_usage_error version extra
expect_usage_error example
expect_usage_error example no-such-example
expect_usage_error example telemetry --no-such-option
expect_usage_error example telemetry stray-argument
expect_usage_error example telemetry --workers
expect_usage_error example telemetry --workers zero
expect_usage_error example telemetry --interval -5
expect_usage_error example telemetry --bad-records maybe
expect_usage_error example telemetry --once=yes
expect_usage_error example wordcount-socket --once

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "cli: all checks passed"
