#!/usr/bin/env bash
# device_counts.sh SPATE SRC_DIR - the device-counts example on a copy of its data.
#
# The count per (device, 10-minute window sliding by 5 minutes) and the number of
# late records are recomputed here by window_model.py from the input CSVs, with the
# engine's documented rules: windows half-open and aligned to the epoch; watermark =
# largest event time read so far - 10 minutes, files in name order; a record is not
# added to a window whose end is <= the watermark when it is read, and is late when
# that holds for all its windows. The model also checks that no record is near
# enough that edge for the engine's batching to matter (see window_model.py).
# Run with 2 workers so the window instances get their watermark through an exchange.
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/examples/data/devices" "$tmp/in"

status=0
timeout 120 "$spate" example device-counts --once --input "$tmp/in" --output "$tmp/out" \
    --interval 100 --workers 2 >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
if [ "$status" -ne 0 ]; then
    echo "FAIL: spate exited with status $status; stderr:" >&2
    cat "$tmp/stderr" >&2
    exit 1
fi

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$src/tests/e2e" python3 - "$tmp" <<'PY'
import os, re, sys
from spate_outputs import saved_batches, compare
import window_model as wm

tmp = sys.argv[1]
MIN = 60 * wm.US
files = wm.read_files(os.path.join(tmp, "in"))
count = lambda acc, row: (acc or 0) + 1
expected, late = wm.expected(files, "device_id", "ts", 10 * MIN, 5 * MIN, 10 * MIN, count)
assert expected and late > 0, "the bundled data must have on-time and late readings"

columns = ["device_id", "window_start", "window_end", "count", "op"]
batches = saved_batches(os.path.join(tmp, "out"), "counts", columns)
assert batches, "no count files written"
actual = wm.saved_windows(batches, "device_id", "count", int)
compare(expected, actual, "count per (device_id, window)")

with open(os.path.join(tmp, "stderr")) as f:
    reports = re.findall(r"^late records: (\d+)$", f.read(), re.M)
assert reports, "no 'late records: N' line on stderr"
assert int(reports[-1]) == late, "late records: expected %d, got %s" % (late, reports[-1])

with open(os.path.join(tmp, "stdout")) as f:
    printed = f.read()
for device in sorted({k[0] for k in expected}):
    assert device in printed, "print output does not mention " + device
print("device-counts: %d windows match, %d late record(s)" % (len(expected), late))
PY
