#!/usr/bin/env bash
# telemetry.sh SPATE SRC_DIR - the telemetry example on a copy of the bundled data.
#
# The expected min/max/mean/count per (patient, visit) are computed here from the
# input CSVs by Python, independently of the engine; rows whose heart_rate is not
# an integer are left out there and must show up as dead letters in spate's stderr.
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/examples/data/telemetry" "$tmp/in"

status=0
timeout 120 "$spate" example telemetry --once --input "$tmp/in" --output "$tmp/out" \
    --interval 100 >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
if [ "$status" -ne 0 ]; then
    echo "FAIL: spate exited with status $status; stderr:" >&2
    cat "$tmp/stderr" >&2
    exit 1
fi

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$src/tests/e2e" python3 - "$tmp" <<'PY'
import csv, glob, json, os, re, sys
from spate_outputs import saved_batches, latest_by_key, compare

tmp = sys.argv[1]
readings, bad = {}, 0
for path in sorted(glob.glob(os.path.join(tmp, "in", "*.csv"))):
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if not re.fullmatch(r"-?\d+", row["heart_rate"]):
                bad += 1
                continue
            key = (row["patient_id"], row["visit"])
            readings.setdefault(key, []).append(int(row["heart_rate"]))
assert readings and bad > 0, "the bundled data must have good rows and a malformed one"

expected = {k: (min(v), max(v), len(v), sum(v) / len(v)) for k, v in readings.items()}
columns = ["patient_id", "visit", "min_hr", "max_hr", "mean_hr", "n"]
batches = saved_batches(os.path.join(tmp, "out"), "summary", columns)
assert batches, "no summary files written"
latest = latest_by_key(batches, ["patient_id", "visit"])
actual = {k: (int(r["min_hr"]), int(r["max_hr"]), int(r["n"]), float(r["mean_hr"]))
          for k, r in latest.items()}
without_mean = lambda d: {k: v[:3] for k, v in d.items()}
compare(without_mean(expected), without_mean(actual), "min, max, count per (patient_id, visit)")
# The mean is compared to 1e-3: enough to catch a wrong mean, tolerant of how
# many digits the CSV writer prints.
for k, v in expected.items():
    assert abs(v[3] - actual[k][3]) <= 1e-3, "%r: mean %r, got %r" % (k, v[3], actual[k][3])

letters = []
with open(os.path.join(tmp, "stderr")) as f:
    for line in f:
        if line.startswith("{"):
            letters.append(json.loads(line))
named = [d for d in letters if d.get("field") == "heart_rate"]
assert len(named) == bad, "expected %d dead letters naming heart_rate, got %r" % (bad, letters)

with open(os.path.join(tmp, "stdout")) as f:
    printed = f.read()
for patient in sorted({k[0] for k in expected}):
    assert patient in printed, "print output does not mention " + patient
print("telemetry: %d keys match, %d dead letter(s)" % (len(expected), bad))
PY
