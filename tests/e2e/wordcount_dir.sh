#!/usr/bin/env bash
# wordcount_dir.sh SPATE SRC_DIR - running word counts over a copy of the bundled
# text files, checked against counts Python computes from the same files.
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/examples/data/words" "$tmp/in"

status=0
timeout 120 "$spate" example wordcount-dir --once --input "$tmp/in" --output "$tmp/out" \
    --interval 100 >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
if [ "$status" -ne 0 ]; then
    echo "FAIL: spate exited with status $status; stderr:" >&2
    cat "$tmp/stderr" >&2
    exit 1
fi

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$src/tests/e2e" python3 - "$tmp" <<'PY'
import collections, glob, os, sys
from spate_outputs import saved_batches, latest_by_key, compare

tmp = sys.argv[1]
expected = collections.Counter()
for path in glob.glob(os.path.join(tmp, "in", "*")):
    with open(path) as f:
        expected.update(f.read().split())
assert expected, "no words in the input"

batches = saved_batches(os.path.join(tmp, "out"), "counts", ["word", "count"])
latest = latest_by_key(batches, ["word"])
actual = {k[0]: int(r["count"]) for k, r in latest.items()}
compare(dict(expected), actual, "running word counts")
with open(os.path.join(tmp, "stdout")) as f:
    printed = f.read()
assert any(w in printed for w in expected), "the print output shows no word"
print("wordcount-dir: %d distinct words match" % len(expected))
PY
