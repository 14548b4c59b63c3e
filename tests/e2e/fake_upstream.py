"""A recording HTTP upstream on loopback: stands in for Cloudflare AI Gateway,
passthrough providers and (later) aepipe.

Every request is recorded byte for byte (method, raw target, headers in order,
body). Replies are queued by the test (`reply(...)`) or come from a default that
answers like the API the path belongs to.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    target: str  # path and query exactly as received
    headers: list[tuple[str, str]]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str | None:
        return self.target.split("?", 1)[1] if "?" in self.target else None

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    # Sent chunked (no content-length) unless False.
    chunked: bool = True
    # Seconds to wait before sending the head.
    head_delay: float = 0.0
    # When set, the first chunk goes out, then the server waits for this event
    # (at most `hold_timeout` s) before sending the rest.
    hold: threading.Event | None = None
    hold_timeout: float = 10.0
    # Monotonic times at which each chunk was written (filled in by the server).
    sent_at: list[float] = field(default_factory=list)

    @staticmethod
    def json(value, status: int = 200, headers=()) -> "Reply":
        return Reply(status, [("content-type", "application/json"), *headers],
                     [json.dumps(value).encode()], chunked=False)

    @staticmethod
    def sse(events: list[bytes], **kw) -> "Reply":
        return Reply(200, [("content-type", "text/event-stream"), ("cache-control", "no-cache")], events, **kw)


def default_reply(req: Recorded) -> Reply:
    """What a well-behaved API answers when the test queued nothing."""
    headers = [("cf-aig-cache-status", "MISS"), ("x-upstream", "fake")]
    try:
        body = req.json()
    except ValueError:
        body = None
    model = body.get("model") if isinstance(body, dict) else None
    if req.path.endswith("/chat/completions"):
        return Reply.json({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello from fake"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        }, headers=headers)
    if req.path.endswith("/messages"):
        return Reply.json({
            "id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "hello from fake"}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 4},
        }, headers=headers)
    return Reply.json({"ok": True, "method": req.method, "target": req.target}, headers=headers)


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        # The reply when nothing is queued; tests may replace it.
        self.default = default_reply
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _serve(self):
                body = self._read_body()
                rec = Recorded(self.command, self.path, list(self.headers.items()), body)
                reply = upstream._record(rec)
                self._send(reply)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, reply: Reply):
                if reply.head_delay:
                    time.sleep(reply.head_delay)
                self.send_response(reply.status)
                for k, v in reply.headers:
                    self.send_header(k, v)
                if reply.chunked:
                    self.send_header("transfer-encoding", "chunked")
                else:
                    self.send_header("content-length", str(sum(map(len, reply.chunks))))
                self.end_headers()
                for i, chunk in enumerate(reply.chunks):
                    if i == 1 and reply.hold is not None:
                        reply.hold.wait(reply.hold_timeout)
                    reply.sent_at.append(time.monotonic())
                    if reply.chunked:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    else:
                        self.wfile.write(chunk)
                    self.wfile.flush()
                if reply.chunked:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a proxy that stops mid-body (413, aborts) is expected in these tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _record(self, rec: Recorded) -> Reply:
        with self._lock:
            self.requests.append(rec)
            self._arrived.notify_all()
            return self.replies.popleft() if self.replies else self.default(rec)

    def reply(self, *replies: Reply) -> None:
        """Queues replies for the next requests, in order."""
        with self._lock:
            self.replies.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.replies.clear()
            self.default = default_reply

    def last(self) -> Recorded:
        assert self.requests, "the upstream received nothing"
        return self.requests[-1]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
