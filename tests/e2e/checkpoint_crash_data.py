"""checkpoint_crash_data.py DIR N ROWS - writes N extra telemetry CSV files into DIR.

Same schema as examples/data/telemetry (patient_id, visit, timestamp, heart_rate),
ROWS rows each, from a fixed seed so every run of the crash harness reads the same
input. Names sort after the bundled files, so the files source reads them last.
"""
import random
import sys

directory, nfiles, nrows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20240521)
visits = ["screening", "monitoring", "followup"]
for f in range(nfiles):
    with open("%s/vitals-20160226-%04d.csv" % (directory, f), "w") as out:
        out.write("patient_id,visit,timestamp,heart_rate\n")
        for r in range(nrows):
            second = f * nrows + r
            out.write("P%03d,%s,2016-02-26T%02d:%02d:%02dZ,%d\n" % (
                rng.randrange(20), rng.choice(visits), second // 3600 % 24,
                second // 60 % 60, second % 60, rng.randrange(45, 180)))
