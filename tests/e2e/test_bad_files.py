# Bad files at start, one test per row of the README table "Bad files at start": a rules,
# sites, HJ 212 stations or codes, or token file that does not parse stops jialingd before it
# serves anything, with exit status 1 and one line on stderr naming the file, the place (rule,
# site, line) and what is wrong. (SIGHUP with a bad file keeps the old one: test_alarms,
# test_water_quality, test_hj212 and test_misuse.)
#
# The rows are generated into test functions at import, so run_e2e.py counts and reports each
# one. `python3 tests/e2e/test_bad_files.py` (with $JIALINGD) prints the README table from what
# the server really answers.

import json
import os
import re
import subprocess
import sys
import tempfile

from harness import TestFailure, check, server_binary

# (name, flag(s) and file name, file content, expected stderr line (regex))
ROWS = [
    ("rules_bad_duration", ["--rules"], "rules.json",
     json.dumps({"rules": [{"name": "nh3n_high", "series": "nh3n", "op": "gt", "value": 1.5,
                            "for": "2x"}]}),
     r'^jialingd: rules\[0\] \("nh3n_high"\): field "for": expected a duration'),
    ("rules_not_json", ["--rules"], "rules.json", '{"rules": [',
     r"^jialingd: .*rules.*(line|column)"),
    ("sites_bad_kind", ["--sites"], "sites.json",
     json.dumps({"sites": [{"id": "s1", "kind": "ocean"}]}),
     r'^jialingd: sites file .*sites\[0\] \("s1"\)\.kind: must be one of air, river, lake, '
     r'reservoir, drinking'),
    ("stations_pw_missing", ["--hj212", "127.0.0.1:0", "--hj212-stations"], "stations.txt",
     "# MN PW\nAIR0001\n", r"^jialingd: --hj212-stations .*line 2: PW missing"),
    ("codes_bad_metric", ["--hj212", "127.0.0.1:0", "--hj212-codes"], "codes.txt",
     "a34004 9bad\n", r'^jialingd: --hj212-codes .*line 1: metric "9bad" is not a valid metric'),
    ("tokens_bad_role", ["--tokens"], "tokens.txt", "s3cret admin\n",
     r"^jialingd: token file .*line 1: expected `TOKEN ROLE \[NAME\]`, ROLE one of write, read "
     r"and review"),
]


def _run(row):
    """Starts jialingd with the row's file; returns (exit status, stderr, the temp dir)."""
    _name, flags, filename, content, _pattern = row
    tmp = tempfile.mkdtemp(prefix="jialing-badfile-")
    path = os.path.join(tmp, filename)
    with open(path, "w") as f:
        f.write(content)
    data = os.path.join(tmp, "data")
    proc = subprocess.run([server_binary(), "--data", data, "--listen", "127.0.0.1:0"] + flags +
                          [path], capture_output=True, timeout=60)
    return proc.returncode, proc.stderr.decode("utf-8", "replace").strip(), tmp


def _make_test(row):
    def test():
        status, stderr, tmp = _run(row)
        try:
            if status != 1:
                raise TestFailure("%s: exit status %d, expected 1; stderr %r"
                                  % (row[0], status, stderr))
            lines = stderr.splitlines()
            check(len(lines) == 1, "%s: one line on stderr, got %r" % (row[0], stderr))
            check(re.search(row[4], lines[0]) is not None,
                  "%s: %r does not match %r" % (row[0], lines[0], row[4]))
        finally:
            for root, dirs, files in os.walk(tmp, topdown=False):
                for f in files:
                    os.unlink(os.path.join(root, f))
                for d in dirs:
                    os.rmdir(os.path.join(root, d))
            os.rmdir(tmp)
    test.__name__ = "test_bad_file_" + row[0]
    return test


for _row in ROWS:
    globals()["test_bad_file_" + _row[0]] = _make_test(_row)


def readme_table():
    """The README table, from what the server really answers."""
    out = ["| flag | file | stderr |", "|---|---|---|"]
    for row in ROWS:
        _status, stderr, tmp = _run(row)
        flag = [f for f in row[1] if f.startswith("--")][-1]
        text = row[3].replace("\n", "⏎").replace("|", "\\|")
        message = stderr.replace(tmp + "/", "").replace("|", "\\|")
        out.append("| `%s` | `%s` | `%s` |" % (flag, text, message))
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(readme_table() + "\n")
