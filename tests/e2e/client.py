"""A byte-level HTTP client for the proxy: what a client sends and gets, exactly."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)


def _connect(base: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def call(base: str, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | str | dict | None = None, chunked: bool = False, timeout: float = 30) -> Response:
    """One request. A dict body is sent as JSON; `chunked` streams the body
    without content-length."""
    headers = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    conn = _connect(base, timeout)
    try:
        try:
            if chunked:
                data = body or b""
                pieces = [data[i:i + 7919] for i in range(0, len(data), 7919)]
                conn.request(method, path, body=iter(pieces), headers=headers, encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (e.g. 413) and stopped reading: read that answer
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


class Stream:
    """A response read chunk by chunk as it arrives."""

    def __init__(self, base: str, method: str, path: str, headers: dict[str, str], body: bytes, timeout=30):
        self.conn = _connect(base, timeout)
        self.conn.request(method, path, body=body, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.received = bytearray()

    def read_until(self, marker: bytes, timeout: float) -> float:
        """Reads until `marker` has arrived; returns the monotonic arrival time."""
        self.conn.sock.settimeout(timeout)
        while marker not in self.received:
            chunk = self.response.read1(65536)
            if not chunk:
                raise AssertionError(f"stream ended before {marker!r}; got {bytes(self.received)!r}")
            self.received += chunk
        return time.monotonic()

    def read_rest(self) -> bytes:
        self.received += self.response.read()
        self.conn.close()
        return bytes(self.received)
