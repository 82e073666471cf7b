"""Checks the outputs of examples/sql/*.sql against results recomputed here.

Usage: sql_examples.py DIR, where DIR holds examples/ (the inputs) and out/ (what
the jobs wrote). Updating results are changelogs: their rows carry an op column
first and are applied in file order (a key's rows all come from one worker, so one
part file holds them in order); the final table must equal the recomputed one.
"""
import csv
import datetime
import glob
import json
import math
import os
import sys

import window_model as wm

DIR = sys.argv[1]
MIN = 60 * wm.US


def inputs(*parts):
    """Rows of every CSV file under examples/<parts>, files in name order."""
    path = os.path.join(DIR, "examples", *parts)
    if os.path.isfile(path):
        with open(path, newline="") as f:
            return [list(csv.DictReader(f))]
    return wm.read_files(path)


def outputs(name):
    """Rows of every part file a files sink wrote under out/NAME, in file order."""
    rows = []
    paths = sorted(glob.glob(os.path.join(DIR, "out", name, "*.csv")) +
                   glob.glob(os.path.join(DIR, "out", name, "*.jsonl")))
    assert paths, "no output under out/" + name
    for path in paths:
        with open(path, newline="") as f:
            if path.endswith(".jsonl"):
                rows += [json.loads(line) for line in f if line.strip()]
            else:
                rows += list(csv.DictReader(f))
    return rows


def apply_changelog(rows, key):
    """The final table of a changelog: {key tuple: row}."""
    table = {}
    for r in rows:
        k = tuple(r[c] for c in key)
        op = r["op"]
        if op in ("+I", "+U"):
            assert k not in table, "%s of a key that is present: %r" % (op, r)
            table[k] = r
        elif op in ("-U", "-D"):
            assert k in table, "%s of an absent key: %r" % (op, r)
            old = table.pop(k)
            assert {c: v for c, v in old.items() if c != "op"} == \
                {c: v for c, v in r.items() if c != "op"}, "%s %r retracts %r" % (op, r, old)
        else:
            raise AssertionError("bad op %r" % r)
    return table


def close(a, b):
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def check(what, expected, actual, fields):
    """expected, actual: {key: {field: value}}; numbers compared with a tolerance."""
    problems = []
    for k in sorted(set(expected) | set(actual), key=repr):
        if k not in actual:
            problems.append("missing %r: %r" % (k, expected[k]))
        elif k not in expected:
            problems.append("unexpected %r: %r" % (k, actual[k]))
        else:
            for f in fields:
                e, a = expected[k][f], actual[k][f]
                same = close(e, a) if isinstance(e, (int, float)) and not isinstance(e, bool) \
                    else str(e) == str(a)
                if not same:
                    problems.append("%r.%s: expected %r, got %r" % (k, f, e, a))
    if problems:
        raise AssertionError("%s:\n  %s" % (what, "\n  ".join(problems[:40])))
    print("%s: %d rows match" % (what, len(expected)))


def iso(us):
    return (wm.EPOCH + datetime.timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%SZ")


def telemetry():
    acc = {}
    bad = 0
    for rows in inputs("data", "telemetry"):
        for r in rows:
            if not r["heart_rate"].lstrip("-").isdigit():
                bad += 1  # the sample's malformed row: dead-lettered, not counted
                continue
            k = (r["patient_id"], r["visit"])
            acc.setdefault(k, []).append(int(r["heart_rate"]))
    assert bad == 1, "the telemetry sample has one malformed row"
    with open(os.path.join(DIR, "telemetry.stderr")) as f:
        assert '"reason"' in f.read(), "the malformed row was not dead-lettered on stderr"
    expected = {k: {"min_hr": min(v), "max_hr": max(v), "mean_hr": sum(v) / len(v),
                    "readings": len(v)} for k, v in acc.items()}
    actual = apply_changelog(outputs("sql-telemetry"), ["patient_id", "visit"])
    check("telemetry", expected, actual, ["min_hr", "max_hr", "mean_hr", "readings"])


def fraud():
    hist = {r["account"]: float(r["avg_amount"]) for r in inputs("data", "fraud", "historic.csv")[0]}
    files = inputs("data", "fraud", "transactions")
    amounts = {}
    for rows in files:
        for r in rows:
            amounts.setdefault(r["account"], []).append(float(r["amount"]))
    expected = {}
    for a, v in amounts.items():
        if a in hist and sum(v) / len(v) - hist[a] > 2000:
            expected[(a,)] = {"n": len(v), "running_avg": sum(v) / len(v), "historic_avg": hist[a]}
    assert expected, "the data must flag some account by its running average"
    actual = apply_changelog(outputs("sql-fraud/running"), ["account"])
    check("fraud running alerts", expected, actual, ["n", "running_avg", "historic_avg"])

    fold = lambda acc, row: (acc or []) + [float(row["amount"])]
    windows, _ = wm.expected(files, "account", "ts", 10 * wm.US, 10 * wm.US, 5 * wm.US, fold)
    expected = {}
    for (a, s, e), v in windows.items():
        avg = sum(v) / len(v)
        if a in hist and avg - hist[a] > 2000:
            expected[(a, iso(s), iso(e))] = {"window_avg": avg, "historic_avg": hist[a]}
    assert expected, "the data must flag some account by a window average"
    actual = {}
    for r in outputs("sql-fraud/window"):
        k = (r["account"], r["window_start"], r["window_end"])
        assert k not in actual, "window result twice: %r" % r
        actual[k] = r
    check("fraud window alerts", expected, actual, ["window_avg", "historic_avg"])


def device_counts():
    files = inputs("data", "devices")
    count = lambda acc, row: (acc or 0) + 1
    windows, late = wm.expected(files, "device_id", "ts", 10 * MIN, 5 * MIN, 10 * MIN, count)
    assert late > 0, "the bundled data has late readings"
    with open(os.path.join(DIR, "device_counts.stderr")) as f:
        reported = f.read()
    assert "spate: %d late records dropped" % late in reported, \
        "expected %d late records reported on stderr, got:\n%s" % (late, reported)
    expected = {(d, iso(s), iso(e)): {"events": n} for (d, s, e), n in windows.items()}
    actual = {}
    for r in outputs("sql-devices"):
        k = (r["device_id"], r["window_start"], r["window_end"])
        assert k not in actual, "window result twice: %r" % r
        actual[k] = r
    check("device counts", expected, actual, ["events"])


def parking():
    cap = {r["garage"]: int(r["capacity"]) for r in inputs("sql", "data", "garages.csv")[0]}
    occupied, last = {}, {}
    for rows in inputs("sql", "data", "parking"):
        for r in rows:
            g = r["garage"]
            occupied[g] = occupied.get(g, 0) + (-1 if r["available"] == "true" else 1)
            last[g] = max(last.get(g, ""), r["ts"])
    expected = {(g,): {"free": cap[g] - occupied[g], "as_of": last[g]} for g in occupied}
    actual = apply_changelog(outputs("sql-parking"), ["garage"])
    check("parking free spaces", expected, actual, ["free", "as_of"])

    latest = {}
    for rows in inputs("sql", "data", "parking"):
        for r in rows:
            latest[r["space_id"]] = r  # files and rows are in time order
    taken = {}
    for r in latest.values():
        if r["available"] == "false":
            taken[r["garage"]] = taken.get(r["garage"], 0) + 1
    expected = {(g,): {"occupied": n} for g, n in taken.items()}
    actual = apply_changelog(outputs("sql-parking-occupied"), ["garage"])
    check("parking occupied spaces (latest report per space)", expected, actual, ["occupied"])


def coffee():
    exp = {r["store"]: int(r["expected_seconds"]) for r in inputs("sql", "data", "expected.csv")[0]}
    start, end, store = {}, {}, {}
    for rows in inputs("sql", "data", "coffee"):
        for r in rows:
            ts = wm.parse_ts(r["ts"])
            if r["step"] == "customer.order:initialized":
                start[r["order_id"]] = ts
                store[r["order_id"]] = r["store"]
            elif r["step"] == "customer.order:fulfilled":
                end[r["order_id"]] = ts
    expected = {}
    for o, t0 in start.items():
        if o in end and t0 <= end[o] <= t0 + 3600 * wm.US:
            secs = (end[o] - t0) // wm.US
            expected[(o,)] = {"store": store[o], "seconds": secs,
                              "too_slow": "true" if secs > exp[store[o]] else "false"}
    assert any(v["too_slow"] == "true" for v in expected.values()), "some order must be slow"
    assert len(expected) < len(start), "some order is never fulfilled"
    actual = {}
    for r in outputs("sql-coffee"):
        assert (r["order_id"],) not in actual, "order twice: %r" % r
        actual[(r["order_id"],)] = r
    check("coffee order durations", expected, actual, ["store", "seconds", "too_slow"])


def carts():
    acc = {}
    for rows in inputs("sql", "data", "carts"):
        for r in rows:
            if r["status"] != "completed":
                continue
            t = wm.EPOCH + datetime.timedelta(microseconds=wm.parse_ts(r["ts"]))
            field = "%d:%d" % ((t.weekday() + 1) % 7, t.hour)
            n, s = acc.get(field, (0, 0.0))
            acc[field] = (n + 1, s + float(r["total"]))
    expected = {(f,): {"completed": n, "revenue": s} for f, (n, s) in acc.items()}
    actual = apply_changelog(outputs("sql-carts"), ["field"])
    check("hourly completed carts", expected, actual, ["completed", "revenue"])


for check_one in (telemetry, fraud, device_counts, parking, coffee, carts):
    check_one()
