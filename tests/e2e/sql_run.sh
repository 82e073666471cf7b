#!/usr/bin/env bash
# sql_run.sh SPATE SRC_DIR - `spate run` as a long-running job: graceful stop on
# SIGTERM, resume from its checkpoint, and the command line's errors.
#
# A running GROUP BY over a watched directory writes its changelog through the
# files sink (exactly-once with checkpoints). The job is started, fed a file,
# stopped with SIGTERM (graceful: final checkpoint, output committed), restarted
# with the same --checkpoint-dir, fed a second file, stopped again. Applying the
# committed changelog of both runs must give the totals over both files, each
# row counted once: the restart neither re-reads the first file nor loses state.
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/in"

cat >"$tmp/job.sql" <<SQL
SET workers = 2;
SET checkpoint.interval.ms = '200 ms';
CREATE SOURCE readings (sensor STRING, value INT)
  WITH (connector = 'files', path = '$tmp/in', format = 'csv', header = 'true',
        poll.interval = '50ms');
CREATE SINK totals WITH (connector = 'files', path = '$tmp/out', format = 'csv');
INSERT INTO totals SELECT sensor, SUM(value) AS total, COUNT(*) AS n FROM readings GROUP BY sensor;
SQL

# wait_rows N: polls until the committed output has at least N rows (20 s at most).
wait_rows() {
    for _ in $(seq 200); do
        if [ "$(committed_rows)" -ge "$1" ]; then return 0; fi
        sleep 0.1
    done
    echo "FAIL: timed out waiting for $1 committed rows; stderr:" >&2
    cat "$tmp/stderr" >&2
    exit 1
}

committed_rows() {
    cat "$tmp"/out/part-*.csv 2>/dev/null | wc -l
}

run_once_more() { # FILE CONTENT EXPECTED_COMMITTED_ROWS
    "$spate" run --checkpoint-dir "$tmp/ckpt" "$tmp/job.sql" >"$tmp/stdout" 2>>"$tmp/stderr" &
    pid=$!
    sleep 0.5
    printf '%s' "$2" >"$tmp/in/.$1" && mv "$tmp/in/.$1" "$tmp/in/$1"
    wait_rows "$3"
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAIL: spate run exited with $status after SIGTERM; stderr:" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
}

# First run: a:1+2, b:5 -> +I a, +I b (or +I a 1, -U, +U as batches fall): >= 2 rows.
run_once_more 1.csv $'sensor,value\na,1\nb,5\na,2\n' 2
# Second run: a:10, c:7 -> at least -U/+U for a and +I for c on top.
before=$(committed_rows)
run_once_more 2.csv $'sensor,value\na,10\nc,7\n' $((before + 3))

python3 - "$tmp/out" <<'PY'
import csv, glob, sys
table = {}
for path in sorted(glob.glob(sys.argv[1] + "/part-*.csv")):
    for op, sensor, total, n in csv.reader(open(path)):
        if op in ("+I", "+U"):
            assert sensor not in table, "%s of a present key %s" % (op, sensor)
            table[sensor] = (int(total), int(n))
        else:
            assert table.pop(sensor) == (int(total), int(n)), "retraction differs"
expected = {"a": (13, 3), "b": (5, 1), "c": (7, 1)}
assert table == expected, "final table %r, expected %r" % (table, expected)
print("sql run: resumed job's changelog gives", table)
PY

# Command-line and script errors: exit 2 for usage, 1 for a failing script.
status=0
"$spate" run >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || { echo "FAIL: 'spate run' without a script exited $status, not 2" >&2; exit 1; }
printf 'SELEC 1;\n' >"$tmp/bad.sql"
status=0
"$spate" run "$tmp/bad.sql" 2>"$tmp/err" || status=$?
[ "$status" -eq 1 ] || { echo "FAIL: a bad script exited $status, not 1" >&2; exit 1; }
grep -q 'bad.sql:1:1: error' "$tmp/err" || { echo "FAIL: no position in:" >&2; cat "$tmp/err" >&2; exit 1; }
"$spate" help run | grep -q -- '--once' || { echo "FAIL: 'spate help run' lacks --once" >&2; exit 1; }
echo "sql run: errors and help ok"
