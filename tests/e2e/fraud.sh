#!/usr/bin/env bash
# fraud.sh SPATE SRC_DIR - the fraud and fraud-state examples on a copy of the bundled data.
#
# Everything expected is computed here by Python from the input CSVs, independently
# of the engine. What is checked, and why:
# - fraud: which transactions fall into which 10-second window depends on when the
#   files are read (processing-time batches), so the window averages cannot be
#   predicted. Checked exactly instead: at the last batch, the set of accounts
#   flagged by their running average and, for each, its transaction count and
#   running average (the last batch sees every transaction, and updateStateByKey
#   re-checks every account each batch). Checked for every alert row of every batch:
#   its historic average is the one of historic.csv, its reason agrees with its
#   numbers and the 2000 margin, and a window average lies between the smallest and
#   largest amount of the account (it is an average of some of its transactions).
# - fraud-state: every transaction comes out once with flagged = amount > 4000; per
#   account the n of its rows are 1..count, and ordering its rows by n, each
#   running_avg is the average of the amounts up to that row (the arrival order is
#   the engine's, the arithmetic is not).
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/examples/data/fraud" "$tmp/in"

run() {
    local name=$1
    shift
    local status=0
    timeout 120 "$spate" example "$name" --once --input "$tmp/in/transactions" \
        --output "$tmp/out-$name" --interval 100 "$@" \
        >"$tmp/stdout-$name" 2>"$tmp/stderr-$name" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAIL: spate example $name exited with status $status; stderr:" >&2
        cat "$tmp/stderr-$name" >&2
        exit 1
    fi
}

run fraud --historic "$tmp/in/historic.csv" --slide 100
run fraud-state

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$src/tests/e2e" python3 - "$tmp" <<'PY'
import csv, glob, os, sys
from spate_outputs import saved_batches, compare

tmp = sys.argv[1]
MARGIN, LIMIT, EPS = 2000.0, 4000.0, 1e-6

with open(os.path.join(tmp, "in", "historic.csv"), newline="") as f:
    historic = {r["account"]: float(r["avg_amount"]) for r in csv.DictReader(f)}
txs = []
for path in sorted(glob.glob(os.path.join(tmp, "in", "transactions", "*.csv"))):
    with open(path, newline="") as f:
        txs += [(r["account"], float(r["amount"]), r["ts"]) for r in csv.DictReader(f)]
amounts = {}
for account, amount, _ in txs:
    amounts.setdefault(account, []).append(amount)

def running_avg(account):
    return sum(amounts[account]) / len(amounts[account])

flagged = {a for a in amounts if a in historic and running_avg(a) > historic[a] + MARGIN}
assert flagged and set(amounts) - flagged, "the data must have flagged and honest accounts"
n_big = sum(1 for _, amount, _ in txs if amount > LIMIT)
assert 0 < n_big < len(txs), "the data must have transactions above and below 4000"

# fraud
columns = ["account", "n", "running_avg", "window_avg", "historic_avg", "reason"]
batches = saved_batches(os.path.join(tmp, "out-fraud"), "alerts", columns)
assert batches, "no alert files written"
for time_ms, rows in batches:
    for r in rows:
        a, hist, avg = r["account"], float(r["historic_avg"]), float(r["running_avg"])
        assert abs(hist - historic[a]) <= EPS, "%d %r: historic %r" % (time_ms, a, hist)
        by_window = r["window_avg"] not in ("", "null")
        if by_window:
            w = float(r["window_avg"])
            assert min(amounts[a]) - EPS <= w <= max(amounts[a]) + EPS, "%r: window %r" % (a, w)
            by_window = w > hist + MARGIN
        want = "+".join(k for k, on in (("running", avg > hist + MARGIN), ("window", by_window))
                        if on)
        assert r["reason"] == want, "%d %r: reason %r, numbers say %r" % (time_ms, a, r, want)
last = {r["account"]: r for r in batches[-1][1] if "running" in r["reason"]}
compare({a: len(amounts[a]) for a in flagged}, {a: int(r["n"]) for a, r in last.items()},
        "transaction counts of the accounts flagged by the running average at the end")
for a in flagged:
    got = float(last[a]["running_avg"])
    assert abs(got - running_avg(a)) <= EPS, "%r: running avg %r, got %r" % (a, running_avg(a), got)
with open(os.path.join(tmp, "stdout-fraud")) as f:
    printed = f.read()
for a in flagged:
    assert a in printed, "print output does not mention " + a

# fraud-state
columns = ["account", "amount", "ts", "flagged", "n", "running_avg"]
rows = [r for _, rs in saved_batches(os.path.join(tmp, "out-fraud-state"), "marked", columns)
        for r in rs]
count = lambda items: {k: items.count(k) for k in set(items)}
compare(count([(a, round(x, 2), ts) for a, x, ts in txs]),
        count([(r["account"], round(float(r["amount"]), 2), r["ts"]) for r in rows]),
        "transactions (account, amount, ts) in and out")
for r in rows:
    want = "true" if float(r["amount"]) > LIMIT else "false"
    assert r["flagged"] == want, "row %r: flagged should be %s" % (r, want)
for a in amounts:
    mine = sorted((r for r in rows if r["account"] == a), key=lambda r: int(r["n"]))
    assert [int(r["n"]) for r in mine] == list(range(1, len(amounts[a]) + 1)), "%r: n" % a
    total = 0.0
    for i, r in enumerate(mine, 1):
        total += float(r["amount"])
        assert abs(float(r["running_avg"]) - total / i) <= EPS, "%r: running avg of %r" % (a, r)
print("fraud: %d flagged by running average over %d batch(es); fraud-state: %d rows, %d flagged"
      % (len(flagged), len(batches), len(rows), n_big))
PY
