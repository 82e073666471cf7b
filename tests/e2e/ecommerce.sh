#!/usr/bin/env bash
# ecommerce.sh SPATE SRC_DIR - the ecommerce example on a copy of its data.
#
# SUM(qty) per (product type, window) for both outputs - 5-minute windows sliding by
# 1 minute, and tumbling 4-hour packing windows - recomputed here by window_model.py
# from the input CSVs with the engine's documented rules: windows half-open and
# aligned to the epoch; watermark = largest event time read so far - 2 minutes, files
# in name order; a record is not added to a window whose end is <= the watermark
# when it is read (late for that window). The model checks that the engine's
# batching cannot change the answer (see window_model.py). The bundled data end with
# orders re-sent hours late, so dropping is exercised in both outputs.
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/examples/data/orders" "$tmp/in"

status=0
timeout 120 "$spate" example ecommerce --once --input "$tmp/in" --output "$tmp/out" \
    --interval 100 >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
if [ "$status" -ne 0 ]; then
    echo "FAIL: spate exited with status $status; stderr:" >&2
    cat "$tmp/stderr" >&2
    exit 1
fi

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$src/tests/e2e" python3 - "$tmp" <<'PY'
import os, sys
from spate_outputs import saved_batches, compare
import window_model as wm

tmp = sys.argv[1]
MIN = 60 * wm.US
files = wm.read_files(os.path.join(tmp, "in"))
qty = lambda acc, row: (acc or 0) + int(row["qty"])
columns = ["product_type", "window_start", "window_end", "qty", "op"]
for name, size, slide in [("last5min", 5 * MIN, MIN), ("packing", 240 * MIN, 240 * MIN)]:
    expected, late = wm.expected(files, "product_type", "ts", size, slide, 2 * MIN, qty)
    assert expected and late > 0, name + ": the data must have on-time and late orders"
    batches = saved_batches(os.path.join(tmp, "out"), name, columns)
    assert batches, "no %s files written" % name
    actual = wm.saved_windows(batches, "product_type", "qty", int)
    compare(expected, actual, name + ": qty per (product_type, window)")
    print("ecommerce %s: %d windows match, %d late order(s)" % (name, len(expected), late))
PY
