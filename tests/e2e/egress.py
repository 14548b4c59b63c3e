"""A trap for traffic that should never leave loopback: an HTTP proxy on
loopback that records every request (CONNECT or absolute URL) and refuses it.
Agents under test get it as HTTPS_PROXY / HTTP_PROXY, with NO_PROXY covering
loopback, so any attempt to reach another host is recorded and fails."""

from __future__ import annotations

import socketserver
import threading


class EgressTrap:
    def __init__(self) -> None:
        self.attempts: list[str] = []
        trap = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline(8192).decode("latin-1").strip()
                if line:
                    trap.attempts.append(line)
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        """Environment that routes every non-loopback request into the trap."""
        return {"HTTPS_PROXY": self.url, "HTTP_PROXY": self.url, "https_proxy": self.url,
                "http_proxy": self.url, "ALL_PROXY": self.url, "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
