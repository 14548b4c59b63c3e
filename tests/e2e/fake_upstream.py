"""A recording HTTP upstream on loopback: stands in for Cloudflare AI Gateway,
passthrough providers and (later) aepipe.

Every request is recorded byte for byte (method, raw target, headers in order,
body). Replies are queued by the test (`reply(...)`) or come from a default that
answers like the API the path belongs to.
"""

from __future__ import annotations

import json
import select
import socket
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
    # Seconds between chunks (a steady stream); a write that fails because the
    # proxy closed the connection sets `closed_at`.
    interval: float = 0.0
    # When set, these exact bytes are the whole response (head and body, any
    # framing, right or wrong) and the connection is closed after them.
    raw: bytes | None = None
    # While holding, the server watches its connection: the monotonic time the
    # proxy closed it lands here.
    closed_at: float | None = None

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
        # Targets of requests whose body arrived cut short (not recorded above).
        self.incomplete: list[str] = []
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
                try:
                    body = self._read_body()
                except EOFError:
                    # A body cut short (a chunked body without its last chunk):
                    # never taken for a complete request.
                    upstream.incomplete.append(self.path)
                    self.close_connection = True
                    return
                rec = Recorded(self.command, self.path, list(self.headers.items()), body)
                reply = upstream._record(rec)
                self._send(reply)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                    out = bytearray()
                    while True:
                        line = self.rfile.readline()
                        if not line:
                            raise EOFError("chunked body without its last chunk")
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        chunk = self.rfile.read(size)
                        if len(chunk) < size:
                            raise EOFError("chunk cut short")
                        out += chunk
                        self.rfile.readline()
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    raise EOFError("body shorter than its content-length")
                return body

            def _hold(self, reply: Reply) -> None:
                """Waits for `reply.hold`, noting when the peer closes meanwhile."""
                deadline = time.monotonic() + reply.hold_timeout
                sock = self.connection
                while not reply.hold.is_set() and time.monotonic() < deadline:
                    readable, _, _ = select.select([sock], [], [], 0.05)
                    if readable and reply.closed_at is None:
                        try:
                            if sock.recv(1, socket.MSG_PEEK) == b"":
                                reply.closed_at = time.monotonic()
                        except OSError:
                            reply.closed_at = time.monotonic()
                    if reply.closed_at is not None:
                        return

            def _send(self, reply: Reply):
                if reply.head_delay:
                    time.sleep(reply.head_delay)
                if reply.raw is not None:
                    self.wfile.write(reply.raw)
                    self.wfile.flush()
                    self.close_connection = True
                    return
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
                        self._hold(reply)
                    if i > 0 and reply.interval:
                        time.sleep(reply.interval)
                    reply.sent_at.append(time.monotonic())
                    try:
                        if reply.chunked:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        else:
                            self.wfile.write(chunk)
                        self.wfile.flush()
                    except OSError:
                        reply.closed_at = time.monotonic()
                        self.close_connection = True
                        return
                if reply.chunked:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # socketserver's default listen backlog is 5: a burst of more
            # connections than that (ten requests' reports at once) overflows
            # it, and the kernel's SYN retry comes a second later, which no
            # real server's backlog would cost.
            request_queue_size = 1024

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
            self.incomplete.clear()
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


class Silent:
    """A TCP listener that accepts connections and never says a word (a TLS
    handshake that never ends, an HTTP server that never answers). Records when
    each connection was closed by the peer."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.closed = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conns: list[socket.socket] = []
        self.sock.settimeout(0.05)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                conns.append(conn)
                self.accepted += 1
            except OSError:
                pass
            readable = select.select(conns, [], [], 0)[0] if conns else []
            for conn in readable:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    conns.remove(conn)
                    conn.close()
                    self.closed += 1
        for conn in conns:
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
