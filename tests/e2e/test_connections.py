# Connection limits: past --max-connections a request gets 503 with a message instead of a hang
# or a dropped connection, and idle connections do not hold the server: once they close, new
# requests are served again.

import socket
import time

from harness import HOST, Server, check, eq


def _get(port, path):
    sock = socket.create_connection((HOST, port), timeout=10)
    try:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        sock.close()


def test_over_connection_limit_gets_503():
    srv = Server(sync="none", args=["--max-connections", "4"], name="connlimit").start()
    idle = []
    try:
        for _ in range(6):
            idle.append(socket.create_connection((HOST, srv.port), timeout=10))
        time.sleep(0.3)  # let the server register them
        reply = _get(srv.port, "/health")
        check(reply.startswith(b"HTTP/1.1 503"), "reply over the limit: %r" % reply[:200])
        check(b"too many open connections" in reply, "message names the limit: %r" % reply[-200:])
        for sock in idle:
            sock.close()
        idle = []
        time.sleep(0.3)
        reply = _get(srv.port, "/health")
        check(reply.startswith(b"HTTP/1.1 200"), "reply once idle connections closed: %r"
              % reply[:200])
        srv.stop()
    finally:
        for sock in idle:
            sock.close()
        srv.cleanup()


def test_slow_clients_do_not_hold_the_server():
    # Every worker could be tied up by clients that trickle a request one byte at a time or never
    # read a large answer; the event loop must keep serving others, and the connection timeout
    # must end the idle ones.
    srv = Server(sync="none", args=["--threads", "2", "--connection-timeout", "2"],
                 name="slow").start()
    slow = []
    try:
        count = 40000
        text = "\n".join("slowbig value=%d.5 %d" % (i % 977, 1735689600000 + i * 1000)
                         for i in range(count))
        srv.write_ok(text, precision="ms")
        # 8 clients trickle a request line (more than --threads), 4 ask for a 1 MB answer and
        # never read it.
        for i in range(8):
            sock = socket.create_connection((HOST, srv.port), timeout=10)
            sock.sendall(b"GE")
            slow.append(sock)
        for i in range(4):
            sock = socket.create_connection((HOST, srv.port), timeout=10)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"GET /api/v1/query?series=slowbig&from=0&to=1800000000000 HTTP/1.1\r\n"
                         b"Host: x\r\n\r\n")
            slow.append(sock)
        started = time.time()
        for _ in range(5):
            for sock in slow[:8]:
                sock.sendall(b"T")  # one more byte each, slower than anyone would type
            reply = _get(srv.port, "/health")
            check(reply.startswith(b"HTTP/1.1 200"), "health while slow clients hang on: %r"
                  % reply[:100])
            doc = srv.ok("latest", series="slowbig")
            eq(doc["series"][0]["values"], [[1735689600000 + (count - 1) * 1000,
                                             (count - 1) % 977 + 0.5]], "latest meanwhile")
            time.sleep(0.3)
        check(time.time() - started < 20, "answers came promptly")
        # The trickling clients stop; within the 2 s timeout (plus slack) the server closes them.
        time.sleep(4)
        closed = 0
        for sock in slow[:8]:
            sock.settimeout(2)
            try:
                closed += sock.recv(1) == b""
            except ConnectionResetError:
                closed += 1
            except socket.timeout:
                pass  # still open: counted as not closed
        eq(closed, 8, "idle trickling connections closed by the timeout")
        srv.stop()
    finally:
        for sock in slow:
            sock.close()
        srv.cleanup()
