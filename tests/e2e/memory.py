"""What one big request costs `wasmtime serve` in memory, per path: the peak
RSS of a fresh host (VmHWM) before and after one request whose body is
`size` bytes of small items, the shape that costs a parser most. Shared by
the test that holds the bound (test_limits.py) and the bench that prints the
figures (scripts/bench-memory.sh)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

from fake_upstream import FakeUpstream
from hosts import WasmtimeHost

TOKEN = "memory-token"


@dataclass
class Case:
    name: str
    path: str
    headers: dict[str, str]
    # The body around its list of items: `{…, "<key>": [items]}`.
    fields: dict
    key: str
    item: dict


def cases(upstream: FakeUpstream) -> list[Case]:
    """Every path that reads a body; passthrough goes to `upstream`."""
    gateway = {"authorization": f"Bearer {TOKEN}"}
    anthropic = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
    passthrough = {"x-apex-ai-proxy-provider": f"http://127.0.0.1:{upstream.port}", "authorization": "Bearer k"}
    chat_item = {"role": "user", "content": "x"}
    return [
        Case("chat completions, gateway", "/v1/chat/completions", gateway, {"model": "m#deepseek"}, "messages",
             chat_item),
        Case("messages, native (#anthropic)", "/v1/messages", anthropic,
             {"model": "m#anthropic", "max_tokens": 5}, "messages", chat_item),
        Case("messages, translated", "/v1/messages", anthropic, {"model": "m#deepseek", "max_tokens": 5},
             "messages", chat_item),
        Case("count_tokens, estimated", "/v1/messages/count_tokens", anthropic, {"model": "m#deepseek"},
             "messages", chat_item),
        Case("responses, native (#openai)", "/v1/responses", gateway, {"model": "m#openai"}, "input", chat_item),
        Case("responses, translated", "/v1/responses", gateway, {"model": "m#deepseek"}, "input", chat_item),
        Case("passthrough", "/v1/chat/completions", passthrough, {"model": "m"}, "messages", chat_item),
        Case("passthrough, mapped", "/v1/chat/completions",
             {**passthrough, "x-apex-ai-proxy-mapping": "m#n"}, {"model": "m"}, "messages", chat_item),
    ]


def body(case: Case, size: int) -> bytes:
    item = json.dumps(case.item, separators=(",", ":")).encode()
    head = json.dumps(case.fields, separators=(",", ":"))[:-1].encode() + b',"' + case.key.encode() + b'":['
    count = max(1, (size - len(head) - 2) // (len(item) + 1))
    return head + b",".join([item] * count) + b"]}"


def peak_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def measure(case: Case, size: int, upstream: FakeUpstream) -> tuple[int, int, int]:
    """One request of `case` with a body of `size` bytes through a fresh
    wasmtime serve: (status, peak RSS before in KiB, peak RSS after in KiB)."""
    env = {"ACCOUNT_ID": "a", "GATEWAY_ID": "g", "GATEWAY_TOKEN": TOKEN, "GATEWAY_BASE_URL": f"{upstream.url}/v1",
           "PASSTHROUGH_ALLOW_PRIVATE": "true", "MAX_BODY_BYTES": str(size + 1024), "LOG_LEVEL": "off"}
    host = WasmtimeHost().start(env)
    try:
        data = body(case, size)
        # A small request first, so the baseline counts an instance that has run.
        warm = urllib.request.Request(f"{host.url}/healthz")
        urllib.request.urlopen(warm, timeout=30).read()
        before = peak_kib(host.proc.pid)
        request = urllib.request.Request(f"{host.url}{case.path}", data=data, method="POST",
                                         headers={"content-type": "application/json", **case.headers})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            error.read()
            status = error.code
        return status, before, peak_kib(host.proc.pid)
    finally:
        host.stop()


# The cases by name, for parametrized tests.
CASES = ["chat completions, gateway", "messages, native (#anthropic)", "messages, translated",
         "count_tokens, estimated", "responses, native (#openai)", "responses, translated", "passthrough",
         "passthrough, mapped"]
