#!/usr/bin/env bash
# checkpoint_crash.sh SPATE SRC_DIR - the telemetry example survives kill -9.
#
# The bundled telemetry data plus 30 generated files (checkpoint_crash_data.py) are
# summarised twice: once without checkpoints and without kills (the reference),
# and once with --checkpoint-dir, SIGKILLed and restarted, at most 8 times, then
# left to finish. Each kill lands a random 0-29 ms (bash $RANDOM with a fixed seed)
# after the run completed a checkpoint of its own: timed from the job's progress,
# not from the clock of an earlier run, a kill falls mid-run on a loaded machine
# (ctest runs this beside the unit suite) as surely as on an idle one. The crash
# run's published part files, read in commit order,
# must give every (patient_id, visit) the reference's final summary, and its count
# n must equal the number of good input rows of the key, counted here by Python
# from the input files: a lost update or one counted twice changes n.
set -euo pipefail

spate=$1
src=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

cp -r "$src/examples/data/telemetry" "$tmp/in"
python3 "$here/checkpoint_crash_data.py" "$tmp/in" 30 30000

run=(example telemetry --once --input "$tmp/in" --interval 50 --workers 2)

fail() {
    echo "FAIL: $1; stderr of the last run:" >&2
    tail -20 "$tmp/stderr" >&2
    exit 1
}

timeout 120 "$spate" "${run[@]}" --output "$tmp/ref" >/dev/null 2>"$tmp/stderr" ||
    fail "the reference run exited with status $?"

# The newest complete checkpoint's number (chk-N; chk-N.tmp is not complete), or 0.
latest_checkpoint() {
    local n
    n=$(ls "$tmp/ckpt" 2>/dev/null | sed -n 's/^chk-\([0-9]*\)$/\1/p' | sort -n | tail -1)
    echo "${n:-0}"
}

crash_run=("${run[@]}" --output "$tmp/out" --checkpoint-dir "$tmp/ckpt" --checkpoint-interval 100)
RANDOM=4242
kills=0
for attempt in 1 2 3 4 5 6 7 8; do
    before=$(latest_checkpoint)
    "$spate" "${crash_run[@]}" >/dev/null 2>"$tmp/stderr" &
    pid=$!
    # until this run has completed a checkpoint (or ended), 120 s at most
    for _ in $(seq 24000); do
        kill -0 "$pid" 2>/dev/null && [ "$(latest_checkpoint)" -le "$before" ] || break
        sleep 0.005
    done
    delay_ms=$((RANDOM % 30))
    sleep "0.$(printf '%03d' "$delay_ms")"
    if ! kill -0 "$pid" 2>/dev/null; then
        status=0
        wait "$pid" || status=$?
        pid=
        [ "$status" -eq 0 ] || fail "run $attempt exited with status $status"
        break
    fi
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    kills=$((kills + 1))
    echo "run $attempt: killed ${delay_ms} ms after checkpoint $(latest_checkpoint)"
done
[ "$kills" -gt 0 ] || fail "the job ended before the first kill: the harness tested nothing"
timeout 120 "$spate" "${crash_run[@]}" >/dev/null 2>"$tmp/stderr" ||
    fail "the last run exited with status $?"

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$here" python3 - "$tmp" <<'PY'
import csv, glob, os, re, sys
from spate_outputs import saved_batches, latest_by_key, compare

tmp = sys.argv[1]
columns = ["patient_id", "visit", "min_hr", "max_hr", "mean_hr", "n"]
key = ["patient_id", "visit"]

counts = {}
for path in glob.glob(os.path.join(tmp, "in", "*.csv")):
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if re.fullmatch(r"-?\d+", row["heart_rate"]):
                k = (row["patient_id"], row["visit"])
                counts[k] = counts.get(k, 0) + 1

reference = latest_by_key(saved_batches(os.path.join(tmp, "ref"), "summary", columns), key)

# Published parts are part-INSTANCE-SEQ.csv, SEQ increasing in commit order; a key
# lives on one instance, so ordering by (instance, seq) orders each key's rows.
part = re.compile(r"part-(\d+)-(\d+)\.csv$")
parts = []
for path in glob.glob(os.path.join(tmp, "out", "summary", "*")):
    m = part.search(os.path.basename(path))
    assert m, "unexpected file in the output: %s" % path
    parts.append((int(m.group(1)), int(m.group(2)), path))
assert parts, "no published part files"
crashed = {}
for _, _, path in sorted(parts):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows and rows[0] == columns, "%s: no header line" % path
    for r in rows[1:]:
        assert len(r) == len(columns), "%s: bad row %r" % (path, r)
        crashed[(r[0], r[1])] = dict(zip(columns, r))

summary = lambda d: {k: (r["min_hr"], r["max_hr"], round(float(r["mean_hr"]), 3), r["n"])
                     for k, r in d.items()}
compare(summary(reference), summary(crashed), "final summary per (patient_id, visit)")
compare(counts, {k: int(r["n"]) for k, r in crashed.items()}, "input rows counted per key")
print("ok: %d keys, %d input rows, %d parts" % (len(counts), sum(counts.values()), len(parts)))
PY
