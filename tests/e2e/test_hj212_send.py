# `jialing hj212-send`, the HJ 212 data-logger simulator.
#
# Against a fake listener written here (its own CRC-16, its own frame splitting): the frames of a
# replayed CSV file are checked byte by byte against frames built in this file; a reply the fake
# holds back makes the simulator re-send the same frame after --timeout (retried 1, nothing
# lost); a fake that hangs up on a frame gets it again at once on a new connection; a fake that
# never answers makes every message count as lost after its re-sends (exit
# status 1). Against the real `jialingd --hj212`: a replayed file's readings come back from
# /api/v1/query exactly (values, UTC times computed here from the local DataTime at +08:00, the
# flags with with_flags=true&flags=all; CN 2011 real-time and CN 2061 hourly messages), and the
# report counts every message acknowledged.

import datetime
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from harness import HOST, Server, check, eq, free_port, rng, server_binary

CLI_TIMEOUT_S = 120
TZ8 = datetime.timezone(datetime.timedelta(hours=8))
# HJ 212-2017 codes of the six air pollutants and the metric names jialingd stores them under.
METRICS = {"a34004": "pm25", "a34002": "pm10", "a21026": "so2", "a21004": "no2",
           "a21005": "co", "a05024": "o3"}
REPORT_RE = re.compile(r"^sent (\d+), acknowledged (\d+), lost (\d+), retried (\d+), "
                       r"elapsed [0-9.]+ s, [0-9.]+ messages/s, [0-9.]+ readings/s$")


def cli_binary():
    return os.path.join(os.path.dirname(server_binary()), "jialing")


def hj_crc16(data):
    """HJ 212's CRC-16, written out from the standard's description (not the code under test)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(segment):
    return b"##%04d" % len(segment) + segment + b"%04X\r\n" % hj_crc16(segment)


def header_fields(segment):
    """QN, ST, CN, PW, MN, Flag of a data segment (everything before CP=)."""
    head = segment.split(b";CP=", 1)[0]
    return dict(item.split(b"=", 1) for item in head.split(b";"))


class FakeListener:
    """Accepts any number of connections; splits each stream into frames itself, checks their
    CRC, records them, and answers 9014 unless answer(frame_number, fields) says no."""

    def __init__(self, answer=None, hang_up=None):
        self.answer = answer or (lambda n, fields: True)
        self.hang_up = hang_up or (lambda n: False)  # close the connection after frame n
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.frames = []  # (connection number, raw frame bytes) in arrival order
        self.errors = []
        self.connections = 0
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                number = self.connections
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn, number):
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while True:
                    end = buf.find(b"\r\n")
                    if end < 0:
                        break
                    raw, buf = buf[:end + 2], buf[end + 2:]
                    body = raw[:-2]
                    if not body.startswith(b"##") or len(body) < 10:
                        self.errors.append("not a frame: %r" % raw)
                        continue
                    n = int(body[2:6])
                    segment, crc = body[6:6 + n], body[6 + n:]
                    if len(segment) != n or crc != b"%04X" % hj_crc16(segment):
                        self.errors.append("bad length or CRC: %r" % raw)
                        continue
                    with self.lock:
                        index = len(self.frames)
                        self.frames.append((number, raw))
                    fields = header_fields(segment)
                    if self.answer(index, fields):
                        reply = b"QN=%s;ST=91;CN=9014;PW=%s;MN=%s;Flag=4;CP=&&&&" % (
                            fields[b"QN"], fields[b"PW"], fields[b"MN"])
                        try:
                            conn.sendall(frame(reply))
                        except OSError:
                            return
                    if self.hang_up(index):
                        return

    def close(self):
        self.stopping = True
        self.sock.close()


def run_send(args):
    proc = subprocess.run([cli_binary(), "hj212-send"] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=CLI_TIMEOUT_S)
    out = proc.stdout.decode()
    lines = out.strip().splitlines()
    check(len(lines) == 1, "hj212-send printed %r (stderr %r)" % (out, proc.stderr.decode()))
    m = REPORT_RE.match(lines[0])
    check(m is not None, "report line %r" % lines[0])
    counts = {k: int(v) for k, v in zip(("sent", "acked", "lost", "retried"), m.groups())}
    return proc.returncode, counts, proc.stderr.decode()


def local_digits(dt):
    return dt.strftime("%Y%m%d%H%M%S")


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("mn,datatime,code,value,flag\n")
        for mn, dt, code, value, flag in rows:
            f.write("%s,%s,%s,%s,%s\n" % (mn, dt, code, value, flag))


def expected_segments(rows, cn="2011", pw="123456", st="22"):
    """The data segments the simulator must send for rows (mn, DataTime, code, value, flag), per
    MN in time order: one message per (mn, DataTime), codes in file order, QN = DataTime with
    milliseconds 000 (unique here: one message per second at most per station)."""
    key = "Rtd" if cn == "2011" else "Avg"
    groups = {}
    for mn, dt, code, value, flag in rows:
        groups.setdefault(mn, {}).setdefault(dt, []).append((code, value, flag))
    out = {}
    for mn, times in groups.items():
        segs = []
        for dt in sorted(times):
            cp = "DataTime=%s" % dt + "".join(
                ";%s-%s=%s,%s-Flag=%s" % (c, key, v, c, f) for c, v, f in times[dt])
            segs.append(("QN=%s000;ST=%s;CN=%s;PW=%s;MN=%s;Flag=5;CP=&&%s&&"
                         % (dt, st, cn, pw, mn, cp)).encode())
        out[mn] = segs
    return out


def _sample_rows(r, stations, times, start_local, step_s):
    rows = []
    mns = ["88888880000%013d" % (i + 1) for i in range(stations)]
    for k in range(times):
        dt = local_digits(start_local + datetime.timedelta(seconds=k * step_s))
        for mn in mns:
            for code in METRICS:
                decimals = 3 if code == "a21005" else 1
                value = "%.*f" % (decimals, r.uniform(0, 300 if decimals == 1 else 3))
                flag = r.choice("NNNNNNNFMSDCTB")
                rows.append((mn, dt, code, value, flag))
    r.shuffle(rows)  # the simulator groups and orders them itself
    return mns, rows


def test_frames_byte_by_byte():
    r = rng("hj212_send.frames")
    fake = FakeListener()
    tmp = tempfile.mkdtemp(prefix="jialing-hjsend-")
    try:
        start = datetime.datetime(2025, 1, 1, 7, 58, 0, tzinfo=TZ8)
        mns, rows = _sample_rows(r, 2, 5, start, 60)
        rows.sort(key=lambda row: (row[0], row[1]))  # stable: codes keep the file order
        csv_path = os.path.join(tmp, "replay.csv")
        acked_path = os.path.join(tmp, "acked.txt")
        write_csv(csv_path, rows)
        rc, counts, err = run_send(["--to", "%s:%d" % (HOST, fake.port), "--replay", csv_path,
                                    "--acked-log", acked_path])
        eq(fake.errors, [], "fake listener errors")
        eq(rc, 0, "exit status (stderr %r)" % err)
        eq(counts, {"sent": 10, "acked": 10, "lost": 0, "retried": 0}, "report")
        eq(fake.connections, 2, "connections (one per station)")
        expected = expected_segments(rows)
        got = {}
        for number, raw in fake.frames:
            mn = header_fields(raw[6:-6])[b"MN"].decode()
            got.setdefault(mn, []).append(raw)
        eq(sorted(got), sorted(mns), "MNs seen")
        for mn in mns:
            eq(got[mn], [frame(s) for s in expected[mn]], "frames of %s" % mn)
        with open(acked_path) as f:
            acked = sorted(f.read().splitlines())
        eq(acked, sorted("%s,%s" % (mn, local_digits(start + datetime.timedelta(minutes=k)))
                         for mn in mns for k in range(5)), "acked log")
    finally:
        fake.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_generated_frames_shape():
    """Generated mode: MN = prefix + index padded to 24 characters, DataTime and QN from --start
    at --tz, one -Rtd (CN 2011) or -Avg (CN 2051) and -Flag per code, every 4th value M."""
    fake = FakeListener()
    try:
        rc, counts, err = run_send(["--to", "%s:%d" % (HOST, fake.port), "--stations", "3",
                                    "--connections", "1", "--count", "2", "--cn", "2051",
                                    "--start", "2025-03-01T00:00:00Z", "--step", "60",
                                    "--codes", "a34004,a21026", "--flag-every", "4",
                                    "--mn-prefix", "TEST", "--pw", "pw9", "--tz", "+08:00"])
        eq(rc, 0, "exit status (stderr %r)" % err)
        eq(counts, {"sent": 6, "acked": 6, "lost": 0, "retried": 0}, "report")
        eq(fake.connections, 1, "connections")
        seen = []
        pattern = re.compile(r"^QN=(\d{17});ST=22;CN=2051;PW=pw9;MN=(TEST\d{20});Flag=5;"
                             r"CP=&&DataTime=(\d{14});a34004-Avg=(\d+\.\d),a34004-Flag=([NM]);"
                             r"a21026-Avg=(\d+\.\d),a21026-Flag=([NM])&&$")
        for _, raw in fake.frames:
            m = pattern.match(raw[6:-6].decode())
            check(m is not None, "frame %r" % raw)
            seen.append((m.group(2), m.group(3), m.group(1), m.group(5), m.group(7)))
        seen.sort()
        expected = []
        for i in range(3):
            for k, dt in enumerate(("20250301080000", "20250301080100")):
                # values 1..4 of a station: the 4th (k=1, second code) is M
                expected.append(("TEST%020d" % (i + 1), dt, dt + "000", "N", "M" if k else "N"))
        eq(seen, sorted(expected), "MN, DataTime, QN and flags")
    finally:
        fake.close()


def test_resend_after_missing_reply():
    r = rng("hj212_send.resend")
    # The fake holds back the reply to the 3rd frame it receives (the station's 3rd message).
    fake = FakeListener(answer=lambda n, fields: n != 2)
    tmp = tempfile.mkdtemp(prefix="jialing-hjsend-")
    try:
        start = datetime.datetime(2025, 6, 30, 23, 59, 0, tzinfo=TZ8)
        mns, rows = _sample_rows(r, 1, 4, start, 30)
        rows.sort(key=lambda row: row[1])
        csv_path = os.path.join(tmp, "replay.csv")
        write_csv(csv_path, rows)
        rc, counts, err = run_send(["--to", "%s:%d" % (HOST, fake.port), "--replay", csv_path,
                                    "--timeout", "1", "--retries", "2"])
        eq(fake.errors, [], "fake listener errors")
        eq(rc, 0, "exit status (stderr %r)" % err)
        eq(counts, {"sent": 4, "acked": 4, "lost": 0, "retried": 1}, "report")
        segs = [frame(s) for s in expected_segments(rows)[mns[0]]]
        eq([raw for _, raw in fake.frames], segs[:3] + [segs[2]] + segs[3:],
           "frames: the 3rd sent twice, the same bytes")
    finally:
        fake.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_reconnects_and_resends_after_hang_up():
    r = rng("hj212_send.hang_up")
    # The fake closes the connection on the 2nd frame without answering it.
    fake = FakeListener(answer=lambda n, fields: n != 1, hang_up=lambda n: n == 1)
    tmp = tempfile.mkdtemp(prefix="jialing-hjsend-")
    try:
        start = datetime.datetime(2025, 2, 28, 12, 0, 0, tzinfo=TZ8)
        mns, rows = _sample_rows(r, 1, 3, start, 3600)
        rows.sort(key=lambda row: row[1])
        csv_path = os.path.join(tmp, "replay.csv")
        write_csv(csv_path, rows)
        rc, counts, err = run_send(["--to", "%s:%d" % (HOST, fake.port), "--replay", csv_path,
                                    "--cn", "2061", "--timeout", "30", "--retries", "1"])
        eq(fake.errors, [], "fake listener errors")
        eq(rc, 0, "exit status (stderr %r)" % err)
        eq(counts, {"sent": 3, "acked": 3, "lost": 0, "retried": 1}, "report")
        eq(fake.connections, 2, "connections (one reconnect)")
        segs = [frame(s) for s in expected_segments(rows, cn="2061")[mns[0]]]
        eq(fake.frames, [(0, segs[0]), (0, segs[1]), (1, segs[1]), (1, segs[2])],
           "frames: the unanswered one again on the new connection, at once")
    finally:
        fake.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_lost_when_never_answered():
    fake = FakeListener(answer=lambda n, fields: False)
    try:
        rc, counts, err = run_send(["--to", "%s:%d" % (HOST, fake.port), "--count", "2",
                                    "--start", "2025-01-01T00:00:00Z", "--timeout", "0.2",
                                    "--retries", "1"])
        eq(rc, 1, "exit status when messages are lost (stderr %r)" % err)
        eq(counts, {"sent": 2, "acked": 0, "lost": 2, "retried": 2}, "report")
        raws = [raw for _, raw in fake.frames]
        eq(len(raws), 4, "frames received (each message twice)")
        eq(raws[0], raws[1], "the re-send repeats the first message")
        eq(raws[2], raws[3], "the re-send repeats the second message")
        check(raws[0] != raws[2], "two different messages")
    finally:
        fake.close()


# ---------------------------------------------------------------------------------------------
# Against the real server.


def hj_server(sync="none", data_dir=None, name="hj212"):
    """A jialingd with --hj212 on a free port (srv.hj_port), started and accepting loggers."""
    hj_port = free_port()
    srv = Server(sync=sync, args=["--hj212", "%s:%d" % (HOST, hj_port)], data_dir=data_dir,
                 name=name)
    srv.hj_port = hj_port
    srv.start()
    wait_accepting(srv)
    return srv


def wait_accepting(srv):
    for _ in range(600):
        try:
            socket.create_connection((HOST, srv.hj_port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("jialingd does not accept HJ 212 connections on %d\n%s"
                         % (srv.hj_port, srv.log_tail()))


def utc_ms(digits):
    """Epoch ms of a 14-digit DataTime read at +08:00."""
    dt = datetime.datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=TZ8)
    return int(dt.timestamp()) * 1000


def expected_store(rows, cn="2011"):
    """metric -> {(mn, cn): [[utc ms, value, flag], ...] in time order} for rows."""
    out = {}
    for mn, dt, code, value, flag in rows:
        out.setdefault(METRICS[code], {}).setdefault((mn, cn), []).append(
            [utc_ms(dt), float(value), flag or "N"])
    for series in out.values():
        for key in series:
            series[key].sort()
    return out


def stored(srv, metrics, from_ms, to_ms):
    """What the server holds for metrics, in expected_store()'s shape."""
    out = {}
    for metric in metrics:
        doc = srv.ok("query", series=metric, from_=from_ms, to=to_ms, with_flags="true",
                     flags="all")
        series = {}
        for s in doc["series"]:
            eq(s["columns"], ["time", "value", "flag", "valid"],
               "columns of %s %r" % (metric, s["tags"]))
            eq(sorted(s["tags"]), ["cn", "mn"], "tag keys of %s" % metric)
            # No review marks here: valid exactly when the flag is N.
            for row in s["values"]:
                eq(row[3], row[2] == "N", "valid of %r in %s" % (row, metric))
            series[(s["tags"]["mn"], s["tags"]["cn"])] = [row[:3] for row in s["values"]]
        out[metric] = series
    return out


def test_real_server_stores_replayed_file():
    _real_server_replay("2011", 3, 30, 60)


def test_real_server_stores_hourly_averages():
    _real_server_replay("2061", 2, 10, 3600)


def _real_server_replay(cn, stations, times, step_s):
    r = rng("hj212_send.real.%s" % cn)
    srv = hj_server()
    tmp = tempfile.mkdtemp(prefix="jialing-hjsend-")
    try:
        # 07:50 at +08:00 is 23:50 UTC the day before: the stored times cross a UTC midnight
        start = datetime.datetime(2025, 1, 1, 7, 50, 0, tzinfo=TZ8)
        mns, rows = _sample_rows(r, stations, times, start, step_s)
        csv_path = os.path.join(tmp, "replay.csv")
        acked_path = os.path.join(tmp, "acked.txt")
        write_csv(csv_path, rows)
        rc, counts, err = run_send(["--to", "%s:%d" % (HOST, srv.hj_port), "--replay", csv_path,
                                    "--cn", cn, "--acked-log", acked_path, "--timeout", "60"])
        n = stations * times
        eq(rc, 0, "exit status (stderr %r)\n%s" % (err, srv.log_tail()))
        eq(counts, {"sent": n, "acked": n, "lost": 0, "retried": 0}, "report")
        with open(acked_path) as f:
            eq(len(f.read().splitlines()), n, "acked log lines")
        want = expected_store(rows, cn)
        from_ms = utc_ms("20250101000000")
        to_ms = utc_ms("20250103000000")
        eq(stored(srv, sorted(want), from_ms, to_ms), want, "stored readings")
    finally:
        srv.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
