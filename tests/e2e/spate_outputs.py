"""Reading what spate's saveAsTextFiles output wrote, for the end-to-end tests.

Each micro-batch writes PREFIX-TIME.csv. Whether the CSV writer puts a header
line first is the engine's choice, so a first line equal to the expected column
names is dropped rather than assumed. Files are ordered by the batch time in
their name, not by mtime, because that time is what the engine promises.
"""
import csv
import glob
import os
import re


def saved_batches(directory, prefix, columns):
    """[(time_ms, [row dict])] for every PREFIX-TIME.csv in directory, oldest first."""
    pattern = re.compile(re.escape(prefix) + r"-(\d+)\.csv$")
    batches = []
    for path in glob.glob(os.path.join(directory, prefix + "-*.csv")):
        m = pattern.search(os.path.basename(path))
        if not m:
            raise AssertionError("unexpected output file name: " + path)
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        if rows and rows[0] == columns:
            rows = rows[1:]
        for r in rows:
            if len(r) != len(columns):
                raise AssertionError("%s: row %r does not have the columns %r" % (path, r, columns))
        batches.append((int(m.group(1)), [dict(zip(columns, r)) for r in rows]))
    batches.sort(key=lambda b: b[0])
    return batches


def latest_by_key(batches, key_columns):
    """Running results: the newest row of each key over all batches."""
    latest = {}
    for _, rows in batches:
        for r in rows:
            latest[tuple(r[k] for k in key_columns)] = r
    return latest


def compare(expected, actual, what):
    """Fails with every difference between two dicts listed, not just the first."""
    problems = []
    for k in sorted(set(expected) | set(actual), key=repr):
        if k not in actual:
            problems.append("missing %r (expected %r)" % (k, expected[k]))
        elif k not in expected:
            problems.append("unexpected %r = %r" % (k, actual[k]))
        elif expected[k] != actual[k]:
            problems.append("%r: expected %r, got %r" % (k, expected[k], actual[k]))
    if problems:
        raise AssertionError("%s differ:\n  %s" % (what, "\n  ".join(problems)))
