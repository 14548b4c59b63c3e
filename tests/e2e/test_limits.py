"""Per-request bounds on wasmtime serve (docs/security.md, "Memory is bounded"):
one big body of small items costs at most a small multiple of itself in the
host's peak memory, on every path that reads a body. Measured from the host
process (its peak RSS), so what is held is what the operator pays."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from client import call
from fake_upstream import FakeUpstream, Reply
from hosts import WasmtimeHost
from memory import CASES, TOKEN, cases, measure

# The bound docs/security.md states: peak RSS growth at most 4× the body,
# plus a constant for the host's own buffers and the instance.
FACTOR = 4
SLACK_MIB = 48
SIZE = 16 * 1024 * 1024


@pytest.mark.parametrize("name", CASES)
def test_memory_grows_with_the_body_by_a_small_factor(host, upstream, name):
    if host != "wasmtime":
        pytest.skip("measured on wasmtime serve (its peak RSS is the proxy's)")
    case = next(c for c in cases(upstream) if c.name == name)
    status, before, after = measure(case, SIZE, upstream)
    growth = (after - before) * 1024
    print(f"{case.name}: {status}, +{growth / 2**20:.1f} MiB ({growth / SIZE:.2f}× the body)")
    assert status < 500, f"{case.name}: {status}"
    assert growth <= FACTOR * SIZE + SLACK_MIB * 2**20, (
        f"{case.name}: +{growth / 2**20:.0f} MiB for a {SIZE // 2**20} MiB body")


def test_a_slow_aepipe_never_fails_a_client(host, upstream):
    """Reports go out after each answer; an aepipe that takes 0.5 s to answer
    must not exhaust the host's instances (issue 21: with the pool sized for
    32 requests, 165 of 200 clients got wasmtime's own 500)."""
    if host != "wasmtime":
        pytest.skip("the instance pool is wasmtime serve's")
    aepipe = FakeUpstream()
    aepipe.default = lambda req: Reply(200, [("content-type", "application/json")], [b"{}"], chunked=False,
                                       head_delay=0.5)
    env = {"ACCOUNT_ID": "a", "GATEWAY_ID": "g", "GATEWAY_TOKEN": TOKEN, "GATEWAY_BASE_URL": f"{upstream.url}/v1",
           "AEPIPE_BASE_URL": aepipe.url, "AEPIPE_TOKEN": "t", "APEX_CAPACITY": "32", "LOG_LEVEL": "error"}
    proxy = WasmtimeHost().start(env)
    try:
        body = {"model": "m#deepseek", "messages": [{"role": "user", "content": "hi"}]}
        headers = {"authorization": f"Bearer {TOKEN}"}
        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(lambda _: call(proxy.url, "POST", "/v1/chat/completions", headers, body).status,
                                     range(200)))
        failed = [s for s in statuses if s != 200]
        assert not failed, f"{len(failed)} of 200 clients failed: {sorted(set(failed))}; log: {proxy.log_text()[-2000:]}"
        # Every report that was not dropped arrives; dropped ones are counted in the log.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(aepipe.requests) < 400:
            time.sleep(0.2)
        # At this capacity the serve flags give each instance room for 64 waiting calls: none is dropped.
        assert len(aepipe.requests) == 400, f"{len(aepipe.requests)} of 400 report calls arrived"
        assert "dropped" not in proxy.log_text()
    finally:
        proxy.stop()
        aepipe.close()


def test_a_long_model_list_costs_requests_nothing(host, upstream):
    """`GATEWAY_MODELS` is read once per instance, not per request (issue 21:
    6,000 entries took every request from 0.23 to 1.63 ms of CPU). The CPU
    of 1,000 requests with 6,000 entries against none, as a ratio."""
    if host != "wasmtime":
        pytest.skip("CPU measured from wasmtime serve's process")
    models = ",".join(f"model-{i}#deepseek" for i in range(6000))

    def cpu_of(extra: dict[str, str]) -> float:
        env = {"ACCOUNT_ID": "a", "GATEWAY_ID": "g", "GATEWAY_TOKEN": TOKEN,
               "GATEWAY_BASE_URL": f"{upstream.url}/v1", "LOG_LEVEL": "off", **extra}
        proxy = WasmtimeHost().start(env)
        try:
            call(proxy.url, "GET", "/healthz")
            stat = lambda: sum(int(x) for x in open(f"/proc/{proxy.proc.pid}/stat").read().split()[13:15])  # noqa: E731
            before = stat()
            for _ in range(1000):
                assert call(proxy.url, "GET", "/v1/models", {"authorization": "Bearer wrong"}).status == 401
            return max(stat() - before, 1)
        finally:
            proxy.stop()

    plain, listed = cpu_of({}), cpu_of({"GATEWAY_MODELS": models})
    print(f"1,000 requests: {plain} ticks without the list, {listed} with 6,000 models")
    assert listed < 2 * plain + 10, f"{listed} ticks with the list against {plain} without"
