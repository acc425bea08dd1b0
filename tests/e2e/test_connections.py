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
