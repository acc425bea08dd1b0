# More concurrent readers than LMDB's default 126 reader slots: 200 client threads, each on its
# own keep-alive connection, released together by a barrier, send scans that decode every chunk of
# a metric (about 100k readings; tens of milliseconds each, so the whole first wave is in flight
# at once) and raw queries to a server with 256 worker threads. The data set is bench-gen's (8
# stations, 15 days, loaded with bench-load); expected answers come from its truth files. Every
# answer must be 200 and exact (a refusal would be a 503 naming the reader slots; it is a failure
# here, as the store opens LMDB with 1024 slots). While the load runs the test samples LMDB's
# reader table with mdb_stat (when installed) and prints the most read transactions seen at once.

import array
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse

from harness import HOST, Server, by_series, check, eq, server_binary, skey

CLIENTS = 200
THRESHOLD = 30  # scans count readings above this value (most chunks straddle it: decoded)
METRICS = ["cod", "nh3n", "o3", "pm10", "pm25"]


def _sample_readers(data_dir, stop, peak):
    """Counts active read transactions in the reader table until stop is set."""
    while not stop.is_set():
        proc = subprocess.run(["mdb_stat", "-r", data_dir], capture_output=True, text=True)
        active = 0
        for text in proc.stdout.splitlines():
            fields = text.split()
            # reader lines: "pid thread txnid"; an idle slot shows txnid "-"
            if len(fields) == 3 and fields[0].isdigit() and fields[2] != "-":
                active += 1
        peak[0] = max(peak[0], active)
        time.sleep(0.01)


def _load_truth(directory):
    """Series key -> list of (ms, value as int * 10^decimals), and the decimals per key."""
    with open(os.path.join(directory, "truth.json")) as f:
        truth = json.load(f)
    readings, decimals = {}, {}
    for entry in truth["series"]:
        key = skey(entry["metric"], **entry["tags"])
        pairs = array.array("q")
        with open(os.path.join(directory, entry["file"]), "rb") as f:
            pairs.frombytes(f.read())
        check(len(pairs) == 2 * entry["count"], "truth file of %r" % (key,))
        readings[key] = list(zip(pairs[0::2], pairs[1::2]))
        decimals[key] = entry["decimals"]
    return truth, readings, decimals


def test_more_readers_than_default_slots():
    tools = os.path.dirname(server_binary())
    work = tempfile.mkdtemp(prefix="jialing-e2e-readers-")
    srv = Server(sync="none", name="readers",
                 args=["--threads", "256", "--max-connections", "300"]).start()
    try:
        proc = subprocess.run([os.path.join(tools, "bench-gen"), "--stations", "8", "--days",
                               "15", "--seed", "7", "--out", work], capture_output=True, text=True)
        eq(proc.returncode, 0, "bench-gen (%s)" % proc.stderr.strip())
        truth, readings, decimals = _load_truth(work)
        files = sorted(os.path.join(work, n) for n in os.listdir(work) if n.endswith(".lp"))
        proc = subprocess.run([os.path.join(tools, "bench-load"), "--url",
                               "http://%s:%d" % (HOST, srv.port), "--clients", "2", "--batch",
                               "10000"] + files, capture_output=True, text=True)
        eq(proc.returncode, 0, "bench-load (%s %s)" % (proc.stdout[-300:], proc.stderr[-300:]))
        metrics = sorted(set(key[0] for key in readings))
        eq(metrics, sorted(METRICS), "metrics of the data set")

        frm, to = truth["start_ms"], truth["end_ms"] + 1
        expected_scan = {}
        for metric in METRICS:
            expected_scan[metric] = {
                key: [[sum(1 for _, v in points if v > THRESHOLD * 10 ** decimals[key])]]
                for key, points in readings.items() if key[0] == metric}
        raw_cases = []
        for key in sorted(readings)[:10]:
            points = readings[key]
            lo, hi = points[1000][0], points[1300][0]
            sel = '%s{%s}' % (key[0], ",".join('%s="%s"' % kv for kv in key[1]))
            scale = 10.0 ** decimals[key]
            raw_cases.append(({"series": sel, "from": lo, "to": hi}, key,
                              [[ms, v / scale] for ms, v in points if lo <= ms < hi]))

        barrier = threading.Barrier(CLIENTS)
        lock = threading.Lock()
        statuses = {}
        problems = []

        def ask(conn, path, params):
            conn.request("GET", path + "?" + urllib.parse.urlencode(params))
            resp = conn.getresponse()
            body = resp.read()
            with lock:
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.status != 200:
                raise AssertionError("%s: status %d: %r" % (path, resp.status, body[:200]))
            return by_series(json.loads(body.decode()))

        def client(index):
            conn = http.client.HTTPConnection(HOST, srv.port, timeout=300)
            try:
                barrier.wait(60)
                metric = METRICS[index % len(METRICS)]
                got = ask(conn, "/api/v1/scan", {"series": metric, "from": frm, "to": to,
                                                 "op": "gt", "value": THRESHOLD,
                                                 "output": "count"})
                eq(got, expected_scan[metric], "scan counts of %s" % metric)
                params, key, expected = raw_cases[index % len(raw_cases)]
                got = ask(conn, "/api/v1/query", params)
                check(list(got) == [key], "raw query %r answered series %r" % (params, list(got)))
                eq(len(got[key]), len(expected), "raw readings of %r" % (key,))
                for (ms, v), (ems, ev) in zip(got[key], expected):
                    check(ms == ems and abs(v - ev) <= 1e-9 * max(1.0, abs(ev)),
                          "raw reading of %r: got %r, expected %r" % (key, [ms, v], [ems, ev]))
            except Exception as e:  # collected and reported by the test thread
                with lock:
                    problems.append("client %d: %s" % (index, e))
            finally:
                conn.close()

        stop = threading.Event()
        peak = [0]
        sampler = None
        if shutil.which("mdb_stat"):
            sampler = threading.Thread(target=_sample_readers, args=(srv.data_dir, stop, peak),
                                       daemon=True)
            sampler.start()
        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        elapsed = time.monotonic() - started
        stop.set()
        if sampler is not None:
            sampler.join(10)
        check(not any(t.is_alive() for t in threads), "clients still running after 300 s")
        print("  %d clients (a scan and a raw query each) in %.1f s; statuses %s; most read "
              "transactions seen at once: %s" % (CLIENTS, elapsed, statuses,
                                                 peak[0] if sampler is not None else "(no mdb_stat)"))
        check(not problems, "%d of %d clients failed; first: %s"
              % (len(problems), CLIENTS, problems[0] if problems else ""))
        eq(statuses, {200: 2 * CLIENTS}, "statuses of all answers")
        srv.stop()
    finally:
        srv.cleanup()
        shutil.rmtree(work, ignore_errors=True)
