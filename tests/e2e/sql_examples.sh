#!/usr/bin/env bash
# sql_examples.sh SPATE SRC_DIR - every script of examples/sql with `spate run --once`.
#
# Each example runs from a scratch directory holding a copy of the example data
# (the scripts name their inputs relative to the repository root), with 2 workers
# so keyed results cross an exchange. sql_examples.py then recomputes each result
# from the input files on its own (plain Python, the engine's documented rules for
# windows and lateness via window_model.py) and compares it with what the sinks
# wrote, applying the changelog of updating results (+I / -U / +U rows).
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/examples/sql"
cp -r "$src/examples/data" "$tmp/examples/data"
cp -r "$src/examples/sql/data" "$tmp/examples/sql/data"

for script in "$src"/examples/sql/*.sql; do
    name=$(basename "$script" .sql)
    # SET workers = 2 ahead of the script: a session option, then the script itself.
    { echo "SET workers = 2;"; cat "$script"; } >"$tmp/$name.sql"
    status=0
    (cd "$tmp" && timeout 120 "$spate" run --once "$name.sql") >"$tmp/$name.stdout" \
        2>"$tmp/$name.stderr" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAIL: $name: spate run exited with status $status; stderr:" >&2
        cat "$tmp/$name.stderr" >&2
        exit 1
    fi
done

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$src/tests/e2e" python3 "$src/tests/e2e/sql_examples.py" "$tmp"
