"""The far end of every notification in ``branchops bench alerts``: one HTTP server on
127.0.0.1 in its own process, so that receiving costs neither side's CPU budget.

It takes three kinds of POST and keeps what the benchmark needs to judge completeness:

- ``/hook``: BranchOps' webhook document (counted by kind, last arrival kept);
- ``/am``: Alertmanager's webhook (version 4): per group key, the last notification's
  count of firing alerts, so the benchmark can tell when every group shows its final state;
- ``/robot/send``: a DingTalk-style robot that refuses a wrong or stale ``sign`` (HMAC-SHA256
  of ``"{timestamp}\\n{secret}"``, Base64) and keeps each message with its arrival time.

``GET /stats`` answers all of it as JSON. Run as a script it prints its port and serves
until stdin closes; ``Receiver`` does that from the benchmark's side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROBOT_SECRET = "SEC-bench-robot"  # noqa: S105 (a loopback test robot's)


class Tally:
    """Everything received, behind one lock (the server answers on many threads)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.count = 0
        self.refused = 0
        self.first = 0.0
        self.last = 0.0
        self.kinds: dict[str, int] = {}
        self.groups: dict[str, dict[str, Any]] = {}  # Alertmanager group key -> last state
        self.messages: list[dict[str, Any]] = []  # robot and webhook messages, in order

    def hook(self, body: dict[str, Any], at: float) -> None:
        kind = str(body.get("kind", "?"))
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.messages.append({"at": at, "kind": kind, "title": body.get("title", "")})

    def alertmanager(self, body: dict[str, Any], at: float) -> None:
        alerts = body.get("alerts", [])
        firing = sum(1 for a in alerts if a.get("status") == "firing")
        self.kinds[body.get("status", "?")] = self.kinds.get(body.get("status", "?"), 0) + 1
        self.groups[body["groupKey"]] = {
            "at": at,
            "firing": firing,
            "alerts": len(alerts),
            "labels": body.get("groupLabels", {}),
        }

    def robot(self, target: str, body: dict[str, Any], at: float) -> bool:
        query = parse_qs(urlsplit(target).query)
        try:
            stamp, sign = query["timestamp"][0], query["sign"][0]
        except KeyError:
            return False
        mac = hmac.new(self.secret.encode(), f"{stamp}\n{self.secret}".encode(), hashlib.sha256)
        expected = base64.b64encode(mac.digest()).decode()
        if abs(at * 1000 - int(stamp)) > 3_600_000 or not hmac.compare_digest(sign, expected):
            return False
        markdown = body.get("markdown", {})
        self.messages.append(
            {"at": at, "title": markdown.get("title", ""), "text": markdown.get("text", "")}
        )
        return True

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "count": self.count,
                "refused": self.refused,
                "first": self.first,
                "last": self.last,
                "kinds": dict(self.kinds),
                "groups": dict(self.groups),
                "messages": list(self.messages),
            }


def make_handler(tally: Tally) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: both httpx and Alertmanager reuse
        # An answer goes out as two writes (head, then body): with Nagle's algorithm the body
        # waits for the client's delayed ACK, 40 ms per request on Linux, as no real
        # receiver (nginx, the IM vendors' gateways) makes its clients wait.
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, data: Any) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._answer(200, tally.snapshot())

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            at = time.time()
            path = urlsplit(self.path).path
            body = json.loads(raw)
            with tally.lock:
                ok = True
                if path == "/am":
                    tally.alertmanager(body, at)
                elif path == "/robot/send":
                    ok = tally.robot(self.path, body, at)
                else:
                    tally.hook(body, at)
                if ok:
                    tally.count += 1
                    tally.first = tally.first or at
                    tally.last = at
                else:
                    tally.refused += 1
            if path == "/robot/send":
                answer = {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000}
                self._answer(200, answer)
            else:
                self._answer(200, {"ok": True})

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default 5 makes a burst of connections wait for SYN retries


class Receiver:
    """Starts the receiver process; ``stats()`` reads its tally."""

    def __init__(self, secret: str = ROBOT_SECRET) -> None:
        self.secret = secret
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Receiver:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, self.secret],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/stats", timeout=30) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]


def main() -> None:
    tally = Tally(sys.argv[1] if len(sys.argv) > 1 else ROBOT_SECRET)
    server = Server(("127.0.0.1", 0), make_handler(tally))
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # the benchmark closes our stdin when it is done
    server.shutdown()


if __name__ == "__main__":
    main()
