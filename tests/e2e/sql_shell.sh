#!/usr/bin/env bash
# sql_shell.sh SPATE SRC_DIR - the `spate sql` shell.
#
# Piped: a script of statements (spanning lines, several on a line, ';' inside
# strings and comments, a doubled quote) goes into `spate sql --once --format
# csv` over a directory of CSV files; SHOW, DESCRIBE, a filtering SELECT and an
# updating GROUP BY (its changelog applied here) are checked against what Python
# computes from the same files; a wrong statement must be reported with its line
# and column in the whole input, the statements after it must still run, and the
# exit status must be 1. Then the same without the error exits 0, `quit` stops
# reading, and bad options are usage errors.
# On a terminal: sql_shell_pty.py drives the shell on a pseudo-terminal (prompts,
# the live table of a running GROUP BY, Ctrl-C, \q).

# Checks read `step && step || fail ...`: fail is meant to run when either step fails.
# shellcheck disable=SC2015
set -euo pipefail

spate=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

mkdir "$tmp/in"
python3 - "$tmp/in" <<'PY'
import random, sys
rnd = random.Random(7)
users = ["alice", "bob", "carol", "dave", "erin"]
items = ["book", "pen", "it's", "lamp, large"]
for f in range(3):
    with open("%s/part-%d.csv" % (sys.argv[1], f), "w") as out:
        for _ in range(40):
            item = rnd.choice(items)
            item = '"%s"' % item if "," in item else item
            out.write("%s,%s,%d\n" % (rnd.choice(users), item, rnd.randint(1, 100)))
PY

# The erroneous statement is the second one on its line: its column counts from
# the start of the line, its line from the start of the input.
cat >"$tmp/script.sql" <<EOF
-- orders from CSV files
CREATE SOURCE orders (
    user_name STRING,
    item STRING,   -- may hold a quote; a ';' here is a comment
    amount BIGINT
) WITH (connector = 'files', path = '$tmp/in', format = 'csv');
SHOW SOURCES; DESCRIBE orders;
/* a block comment; with a semicolon */
SELECT user_name, amount
  FROM orders WHERE amount > 80;
SELECT user_name, COUNT(*) AS n, SUM(amount) AS total
  FROM orders
  GROUP BY user_name;
SHOW SOURCES; SELECT user_nme FROM orders;
SELECT 'a;b' AS tag, amount FROM orders WHERE item = 'it''s' AND amount < 30
EOF

status=0
timeout 60 "$spate" sql --once --format csv <"$tmp/script.sql" >"$tmp/out" 2>"$tmp/err" ||
    status=$?
[ "$status" -eq 1 ] || fail "a script with an error exited $status, expected 1"

# Where the error is: line of 'user_nme' and its column in that line.
want_line=$(grep -n 'user_nme' "$tmp/script.sql" | cut -d: -f1)
want_col=$(awk '/user_nme/ { print index($0, "user_nme") }' "$tmp/script.sql")
grep -q "^<stdin>:$want_line:$want_col: error: .*user_nme" "$tmp/err" ||
    fail "the error does not name <stdin>:$want_line:$want_col; stderr: $(head -c 600 "$tmp/err")"
# The caret line is indented by two, like the source line above it.
caret=$(awk '/^ *\^~+$/ { print index($0, "^") - 2; exit }' "$tmp/err")
[ "$caret" = "$want_col" ] ||
    fail "the caret is at column '$caret', not $want_col: $(cat "$tmp/err")"
[ "$(grep -c 'error' "$tmp/err")" -eq 1 ] || fail "more than one error: $(cat "$tmp/err")"

PYTHONDONTWRITEBYTECODE=1 python3 - "$tmp" <<'PY' || fail "the piped shell's output is wrong"
import collections, csv, glob, sys

tmp = sys.argv[1]
rows = []
for path in sorted(glob.glob(tmp + "/in/*.csv")):
    with open(path, newline="") as f:
        rows += [(u, i, int(a)) for u, i, a in csv.reader(f)]
out = open(tmp + "/out").read().split("\n")
problems = []

def section(header):
    """The CSV rows printed under header, up to the next line that is not a row of it."""
    if header not in out:
        problems.append("no output with the header %r" % header)
        return []
    start = out.index(header) + 1
    width = len(next(csv.reader([header])))
    got = []
    for line in out[start:]:
        fields = next(csv.reader([line]), [])
        if len(fields) != width:
            break
        got.append(fields)
    return got

def check(what, got, want):
    if sorted(got) != sorted(want):
        problems.append("%s: got %s, expected %s" % (what, sorted(got)[:8], sorted(want)[:8]))

# SHOW SOURCES runs twice (the second time just before the error, on its line).
if out.count("orders") != 2:
    problems.append("SHOW SOURCES printed 'orders' %d times, expected 2" % out.count("orders"))
if "source orders" not in out or not any("amount" in l and "BIGINT" in l for l in out):
    problems.append("DESCRIBE orders shows no columns")

check("SELECT ... WHERE amount > 80", section("user_name,amount"),
      [[u, str(a)] for u, i, a in rows if a > 80])

# The GROUP BY is a changelog: apply it.
current = {}
for op, user, n, total in section("op,user_name,n,total"):
    if op in ("+I", "+U"):
        current[user] = (int(n), int(total))
    elif op in ("-U", "-D") and current.get(user) == (int(n), int(total)):
        del current[user]
    else:
        problems.append("changelog: unexpected %s for %s" % (op, user))
want = collections.defaultdict(lambda: (0, 0))
for u, i, a in rows:
    want[u] = (want[u][0] + 1, want[u][1] + a)
check("GROUP BY user_name", list(current.items()), list(want.items()))

check("the last statement (no ';', after the error)", section("tag,amount"),
      [["a;b", str(a)] for u, i, a in rows if i == "it's" and a < 30])
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("sql shell (piped): %d input rows, %d users" % (len(rows), len(want)))
PY

# Without the error: exit 0. `quit` ends the input: what follows does not run.
{
    grep -v user_nme "$tmp/script.sql"
    printf ';\n\\help\nquit\nSELECT no_such_column FROM orders;\n'
} >"$tmp/good.sql"
status=0
timeout 60 "$spate" sql --once --format csv <"$tmp/good.sql" >"$tmp/out" 2>"$tmp/err" || status=$?
[ "$status" -eq 0 ] || fail "a script without errors exited $status; stderr: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "a script without errors printed: $(cat "$tmp/err")"
grep -q 'Shell commands' "$tmp/out" || fail "\\help printed no list of shell commands"

# An unknown shell command is a failure; an unterminated string at the end of the
# input is reported by the session.
status=0
printf '\\nope\nSHOW SOURCES;\nSELECT '\''open;\n' |
    timeout 60 "$spate" sql --once --format csv >"$tmp/out" 2>"$tmp/err" || status=$?
[ "$status" -eq 1 ] || fail "errors in the input exited $status, expected 1"
grep -q "unknown shell command '\\\\nope'" "$tmp/err" ||
    fail "no error for \\nope: $(cat "$tmp/err")"
grep -q '^<stdin>:3:8: error: unterminated string' "$tmp/err" ||
    fail "no error for the unterminated string at 3:8: $(cat "$tmp/err")"
[ "$(grep -c 'error' "$tmp/err")" -eq 1 ] || fail "errors besides those two: $(cat "$tmp/err")"

for args in "--format xml" "--format" "--bogus" "script.sql"; do
    status=0
    # shellcheck disable=SC2086
    timeout 20 "$spate" sql $args </dev/null >/dev/null 2>"$tmp/err" || status=$?
    [ "$status" -eq 2 ] && grep -q -- '--help' "$tmp/err" ||
        fail "spate sql $args: exit $status, expected a usage error"
done

# \format switches the format of later results; a bad name fails the session.
out=$(printf '%s\n' "SET workers = 1;" \
    "CREATE SOURCE g (twice AS seq * 2) WITH (connector = 'generator', count = '3');" \
    '\format csv' 'SELECT seq, twice FROM g;' '\format jsonl' 'SELECT seq FROM g WHERE seq = 1;' |
    timeout 30 "$spate" sql --once 2>"$tmp/err") || fail "\\format: the session failed"
[ "$out" = $'seq,twice\n0,0\n1,2\n2,4\n{"seq":1}' ] || fail "\\format: got $out"
status=0
printf '\\format bogus\n' | timeout 20 "$spate" sql >/dev/null 2>"$tmp/err" || status=$?
[ "$status" -eq 1 ] && grep -q 'format takes' "$tmp/err" || fail "\\format bogus: exit $status"

mkdir "$tmp/pty"
timeout 90 python3 "$src/tests/e2e/sql_shell_pty.py" "$spate" "$tmp/pty" ||
    fail "the shell on a terminal (sql_shell_pty.py)"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "sql shell: ok"
