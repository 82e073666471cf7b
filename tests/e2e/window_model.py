"""An independent model of spate's event-time windows, for the end-to-end tests.

It recomputes keyed window aggregates from the input CSV files with the rules the
engine documents (docs/time.md), written from those rules and not from its code:

- windows are half-open [start, start + size), their starts multiples of the slide
  counted from the Unix epoch (tumbling: slide = size);
- the watermark is the largest event time read so far minus the delay;
- a window is emitted once, when the watermark reaches its end; a record that
  arrives for a window whose end is <= the watermark is not added to it, and a
  record for which that holds for every one of its windows is a late record;
- files are read in name order, rows in file order; the end of input emits every
  window left.

When is the watermark "read so far"? The engine advances it after each batch the
source produces, and a batch can hold the tail of one file and several small files
after it, so a record is compared with a watermark somewhere between two bounds:
 - per record: every record read before it counts (the most it can be);
 - lagged: only the files at least LAG_FILES before its own count (the least it can
   be: the files source does at most 16 steps per poll and a file takes at least
   two, opening and reading, so one batch spans at most 8 files).
The tests compute both and require them to agree before comparing with the engine:
that the bundled data leave no record near the edge is checked, not assumed.
"""
import csv
import datetime
import glob
import os

US = 1000000
LAG_FILES = 8
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def parse_ts(text):
    """ISO-8601 'YYYY-MM-DDTHH:MM:SS[.f]Z' -> microseconds since the epoch."""
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t - EPOCH) // datetime.timedelta(microseconds=1)


def read_files(directory):
    """[[row dict]] per CSV file of directory, in name order (the engine's order)."""
    files = []
    for path in sorted(glob.glob(os.path.join(directory, "*.csv"))):
        with open(path, newline="") as f:
            files.append(list(csv.DictReader(f)))
    return files


def windows_of(ts, size, slide):
    """Starts of the windows [s, s + size) holding ts, s a multiple of slide."""
    start = ts - ts % slide  # Python's % floors, so this also holds for ts < 0
    starts = []
    while start > ts - size:
        starts.append(start)
        start -= slide
    return starts


def _watermarks(times, delay, lag_files):
    """The watermark each record is compared with, per file and row."""
    marks, seen, file_max = [], None, []
    for ts_list in times:
        if lag_files is None:
            row_marks = []
            for ts in ts_list:
                row_marks.append(None if seen is None else seen - delay)
                seen = ts if seen is None else max(seen, ts)
            marks.append(row_marks)
        else:
            k = len(file_max) - lag_files
            known = [m for m in file_max[:k + 1] if m is not None] if k >= 0 else []
            wm = max(known) - delay if known else None
            marks.append([wm] * len(ts_list))
        file_max.append(max(ts_list) if ts_list else None)
    return marks


def aggregate(files, key, ts_col, size, slide, delay, fold, lag_files=None):
    """({(key, start, end): value}, late records) under one watermark bound.

    fold(acc, row) -> acc folds a row into a window's value (acc is None at first)."""
    times = [[parse_ts(r[ts_col]) for r in rows] for rows in files]
    marks = _watermarks(times, delay, lag_files)
    result, late = {}, 0
    for rows, ts_list, wms in zip(files, times, marks):
        for row, ts, wm in zip(rows, ts_list, wms):
            open_starts = [s for s in windows_of(ts, size, slide) if wm is None or s + size > wm]
            late += not open_starts
            for s in open_starts:
                k = (row[key], s, s + size)
                result[k] = fold(result.get(k), row)
    return result, late


def expected(files, key, ts_col, size, slide, delay, fold):
    """The model's answer, after checking that both watermark bounds give it."""
    eager = aggregate(files, key, ts_col, size, slide, delay, fold)
    lagged = aggregate(files, key, ts_col, size, slide, delay, fold, LAG_FILES)
    assert eager == lagged, "the data leave the result to batching: per record %r, lagged %r" % (
        eager[1], lagged[1])
    return eager


def saved_windows(batches, key, value_col, convert):
    """{(key, start, end): value} from the saved window rows, each (key, window) once."""
    got = {}
    for _, rows in batches:
        for r in rows:
            assert r["op"] == "+I", "the default trigger emits each window once: %r" % r
            k = (r[key], parse_ts(r["window_start"]), parse_ts(r["window_end"]))
            assert k not in got, "window emitted twice: %r" % (k,)
            got[k] = convert(r[value_col])
    return got
