#!/usr/bin/env python3
"""sql_shell_pty.py SPATE TMPDIR - `spate sql` on a pseudo-terminal.

Starts the shell on a pty (40 x 120) with HOME=TMPDIR and types at it: checks the
prompts (`spate> `, `    -> ` for a continuation line), runs an updating GROUP BY
over a files source that never ends (no `once`) and reads the live table it redraws
until it shows the counts Python computes from the files, adds a file and waits for
the table to follow, stops the query with Ctrl-C and expects the prompt back; the
same for an append-only SELECT; then Ctrl-C at the prompt and at a continuation
line (drops the half-typed statement, does not kill the shell), an error (the
shell carries on), `\\q` (exit status 0) and the history file. Every wait has a
timeout and the whole run a deadline of 60 s, after which the shell is killed: this
never hangs.
"""
import collections
import csv
import fcntl
import glob
import os
import pty
import random
import re
import select
import signal
import struct
import sys
import termios
import time

DEADLINE = time.monotonic() + 60
PROMPT = "spate> "
MORE = "    -> "
ESC_J = "\x1b[J"


class Shell:
    def __init__(self, argv, env):
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.out = b""
        self.mark = 0
        self.closed = False

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass

    def text(self, since=None):
        """What the shell wrote since the last thing typed (or since the mark given)."""
        start = self.mark if since is None else since
        return self.out[start:].decode("utf-8", "replace").replace("\r", "")

    def type(self, keys):
        self.mark = len(self.out)
        os.write(self.fd, keys.encode())

    def wait_for(self, pred, what, timeout=25):
        end = min(time.monotonic() + timeout, DEADLINE)
        while not pred(self.text()):
            left = end - time.monotonic()
            if left <= 0 or self.closed:
                fail("%s: %s; the output since the last step:\n%s"
                     % ("the shell ended" if self.closed else "timed out", what,
                        self.text()[-3000:]))
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:  # EIO: the other side of the pty is closed
                    data = b""
                self.out += data
                self.closed = not data
        return self.text()

    def wait_exit(self, timeout=20):
        end = min(time.monotonic() + timeout, DEADLINE)
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.out += os.read(self.fd, 65536)
                except OSError:
                    pass
        fail("the shell did not exit; output:\n%s" % self.text()[-2000:])


shell = None


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    if shell:
        shell.kill()
    sys.exit(1)


def prompt_back(text):
    return text.endswith(PROMPT)


def last_table(text):
    """Rows of the last frame drawn in text (header first), and its status line."""
    frame = text.rsplit(ESC_J, 1)[-1]
    rows, status = [], None
    for line in frame.split("\n"):
        m = re.match(r"^\| (.*) \|$", line)
        if m:
            rows.append([c.strip() for c in m.group(1).split(" | ")])
        m = re.match(r"^(\d+) rows?(?: \(.*\))?, updated \d\d:\d\d:\d\d$", line)
        if m:
            status = int(m.group(1))
    return rows, status


def write_orders(path, rnd, n):
    users = ["alice", "bob", "carol", "dave"]
    tmp = os.path.join(os.path.dirname(path), ".writing")
    with open(tmp, "w") as f:
        for _ in range(n):
            f.write("%s,%d\n" % (rnd.choice(users), rnd.randint(1, 100)))
    os.rename(tmp, path)  # the source ignores dot files: it sees the file whole


def read_orders(directory):
    rows = []
    for path in sorted(glob.glob(os.path.join(directory, "*.csv"))):
        with open(path, newline="") as f:
            rows += [(u, int(a)) for u, a in csv.reader(f)]
    return rows


def group_counts(rows):
    counts = collections.Counter(u for u, a in rows)
    return sorted([u, str(n)] for u, n in counts.items())


def main():
    global shell
    spate, tmp = sys.argv[1], sys.argv[2]
    data = os.path.join(tmp, "in")
    os.mkdir(data)
    rnd = random.Random(11)
    write_orders(os.path.join(data, "a.csv"), rnd, 30)
    write_orders(os.path.join(data, "b.csv"), rnd, 25)

    env = dict(os.environ, HOME=tmp, TERM="xterm", LANG="C.UTF-8")
    env.pop("LC_ALL", None)
    shell = Shell([spate, "sql"], env)
    shell.wait_for(prompt_back, "the first prompt")

    # A statement over two lines: the continuation prompt, then the prompt.
    shell.type("CREATE SOURCE orders (user_name STRING, amount BIGINT)\r")
    shell.wait_for(lambda t: t.endswith(MORE), "the continuation prompt")
    shell.type("  WITH (connector = 'files', path = '%s', format = 'csv');\r" % data)
    text = shell.wait_for(prompt_back, "the prompt after CREATE SOURCE")
    if "error" in text:
        fail("CREATE SOURCE failed:\n" + text)

    # A live GROUP BY: the table follows the files, a new file included.
    shell.type("SELECT user_name, COUNT(*) AS n FROM orders GROUP BY user_name;\r")
    select_mark = shell.mark
    want = group_counts(read_orders(data))
    shell.wait_for(lambda t: sorted(last_table(t)[0][1:]) == want and last_table(t)[1] == len(want),
                   "a live table with the counts %s" % want)
    write_orders(os.path.join(data, "c.csv"), rnd, 40)
    want = group_counts(read_orders(data))
    text = shell.wait_for(lambda t: sorted(last_table(t)[0][1:]) == want,
                          "the live table to show the counts %s after a new file" % want)
    header = last_table(text)[0][0]
    if header != ["user_name", "n"]:
        fail("the live table's header is %s, expected user_name and n (no op)" % header)
    if not re.search(r"\x1b\[\d+A\x1b\[J", text):
        fail("the table was not redrawn in place (no cursor-up and clear)")
    shell.type("\x03")
    shell.wait_for(prompt_back, "the prompt after Ctrl-C stopped the GROUP BY")
    text = shell.text(since=select_mark)
    if sorted(last_table(text)[0][1:]) != want:
        fail("the table left on the screen is not the result: %s" % text[-1500:])

    # An append-only SELECT over the unbounded source: all matching rows, then Ctrl-C.
    shell.type("SELECT user_name, amount FROM orders WHERE amount > 90;\r")
    big = sorted([u, str(a)] for u, a in read_orders(data) if a > 90)
    shell.wait_for(lambda t: sorted(last_table(t)[0][1:]) == big and last_table(t)[1] == len(big),
                   "the %d rows with amount > 90" % len(big))
    shell.type("\x03")
    shell.wait_for(prompt_back, "the prompt after Ctrl-C stopped the SELECT")

    # Ctrl-C at the prompt drops the statement being typed and keeps the shell.
    shell.type("SELECT nothing_here")
    shell.wait_for(lambda t: "nothing_here" in t, "the echo of the typed text")
    shell.type("\x03")
    shell.wait_for(prompt_back, "a new prompt after Ctrl-C at the prompt")
    shell.type("\x03")
    shell.wait_for(prompt_back, "a new prompt after Ctrl-C at an empty prompt")
    shell.type("SELECT\r")
    shell.wait_for(lambda t: t.endswith(MORE), "the continuation prompt of a SELECT")
    shell.type("\x03")
    shell.wait_for(prompt_back, "the first prompt again after Ctrl-C at a continuation line")
    shell.type("SHOW SOURCES;\r")
    text = shell.wait_for(prompt_back, "the prompt after SHOW SOURCES")
    if "orders" not in text or "error" in text:
        fail("SHOW SOURCES after Ctrl-C printed:\n" + text)

    # An error: reported with its place, and the shell carries on.
    shell.type("SELECT amout FROM orders;\r")
    text = shell.wait_for(prompt_back, "the prompt after an error")
    if not re.search(r":1:8: error: .*amout", text):
        fail("the error does not name line 1, column 8:\n" + text)

    shell.type("\\q\r")
    status = shell.wait_exit()
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        fail("\\q: the shell ended with wait status %d" % status)
    shell = None

    history = os.path.join(tmp, ".spate_history")
    # libedit escapes blanks in the file (SHOW\040SOURCES;).
    if not os.path.exists(history) or "SOURCES;" not in open(history, errors="replace").read():
        fail("no SHOW SOURCES in the history file %s" % history)
    print("sql shell (terminal): prompts, live table, Ctrl-C, errors, \\q and history ok")


if __name__ == "__main__":
    main()
