#!/usr/bin/env bash
# wordcount_socket.sh SPATE SRC_DIR - the socket word count against a local server.
#
# A Python TCP server on an ephemeral 127.0.0.1 port sends known lines in two
# parts (so they usually span batches); once the saved per-batch counts add up to
# every word sent, or after 20 s, spate gets SIGTERM and must stop gracefully with
# status 0. The per-batch counts summed over all batches must equal the counts
# Python computes from the lines it sent.
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$src/tests/e2e" python3 - "$spate" "$tmp" <<'PY'
import collections, os, signal, socket, subprocess, sys, threading, time
from spate_outputs import saved_batches, compare

spate, tmp = sys.argv[1], sys.argv[2]
out = os.path.join(tmp, "out")
first = ["to be or not to be", "that is the question", "  spaced   out\twords  "]
second = ["whether tis nobler in the mind to suffer", "to be", "the end"]
expected = collections.Counter(w for line in first + second for w in line.split())

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", 0))
server.listen(4)
server.settimeout(20)
port = server.getsockname()[1]


def serve():
    """Serves the first connection only and keeps it open until spate closes it,
    so a reconnect cannot make the lines count twice."""
    conn, _ = server.accept()
    with conn:
        conn.sendall(("\n".join(first) + "\n").encode())
        time.sleep(0.5)
        conn.sendall(("\n".join(second) + "\n").encode())
        conn.settimeout(60)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass


def summed_counts():
    counts = collections.Counter()
    for _, rows in saved_batches(out, "counts", ["word", "count"]):
        for r in rows:
            counts[r["word"]] += int(r["count"])
    return counts


threading.Thread(target=serve, daemon=True).start()
cmd = [spate, "example", "wordcount-socket", "--host", "127.0.0.1", "--port", str(port),
       "--output", out, "--interval", "200"]
with open(os.path.join(tmp, "stdout"), "w") as so, open(os.path.join(tmp, "stderr"), "w") as se:
    proc = subprocess.Popen(cmd, stdout=so, stderr=se)
try:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if summed_counts() == expected:
                break
        except (AssertionError, ValueError):
            pass  # a file being written right now; look again
        time.sleep(0.1)
    exited_early = proc.poll()
    proc.send_signal(signal.SIGTERM)
    status = proc.wait(timeout=20)
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
with open(os.path.join(tmp, "stderr")) as f:
    errors = f.read()
assert exited_early is None, "spate exited before SIGTERM (%r): %s" % (exited_early, errors)
assert status == 0, "spate exited with %r after SIGTERM: %s" % (status, errors)
compare(dict(expected), dict(summed_counts()), "word counts summed over batches")
print("wordcount-socket: %d distinct words match" % len(expected))
PY
