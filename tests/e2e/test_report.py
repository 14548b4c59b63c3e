"""aepipe reporting (docs/operations.md) end to end: what the fake aepipe received for each
mode and dialect, redaction, and that a failing aepipe never hurts the client.
wasmtime only: jco serve runs handlers one at a time, so post-response work
there delays the next request by design of that host."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from client import Stream, call
from conftest import AEPIPE_TOKEN, GATEWAY_TOKEN
from fake_upstream import Reply

AUTH = {"authorization": f"Bearer {GATEWAY_TOKEN}"}
POINT_URL = "/v1/apex-ai-proxy/requests/ingest"
RAW_URL = "/v1/apex-ai-proxy/raw/log"


@pytest.fixture
def reporting(proxies, host):
    return proxies.get(host, "report").url


def reports(aepipe, *responses, timeout=10.0):
    """The (points, raw entries) reported for `responses`, in order, matched by
    the request id each response carries. Reports go out after the response,
    so one from an earlier test's request may still arrive during this test:
    matching by id, never by arrival, keeps it out."""
    ids = [r.header("x-apex-ai-proxy-request-id") for r in responses]
    assert all(ids), "every response carries its request id"
    deadline = time.monotonic() + timeout
    while True:
        got = list(aepipe.requests)
        # A Worker sends the reports of requests that end together in one call.
        points = [p for r in got if r.path == POINT_URL for p in r.json()["points"]]
        raws = [e for r in got if r.path == RAW_URL for e in r.json()["logs"]]
        mine = ([p for p in points if p["blobs"][9] in ids], [r for r in raws if r["request_id"] in ids])
        if (len(mine[0]) >= len(ids) and len(mine[1]) >= len(ids)) or time.monotonic() > deadline:
            break
        aepipe.wait_for(len(got) + 1, 0.2)
    for r in got:
        assert r.method == "POST"
        assert r.header("authorization") == f"Bearer {AEPIPE_TOKEN}"
        assert r.header("content-type") == "application/json"
    for request_id in ids:
        assert [p["blobs"][9] for p in mine[0]].count(request_id) == 1, f"one point for {request_id}"
        assert [r["request_id"] for r in mine[1]].count(request_id) == 1, f"one raw entry for {request_id}"
    by_id = lambda entries, key: [next(e for e in entries if key(e) == i) for i in ids]  # noqa: E731
    return by_id(mine[0], lambda p: p["blobs"][9]), by_id(mine[1], lambda r: r["request_id"])


def check_no_secrets(aepipe, *secrets):
    everything = b"".join(r.body for r in aepipe.requests)
    for secret in (GATEWAY_TOKEN, AEPIPE_TOKEN, *secrets):
        assert secret.encode() not in everything, f"{secret} leaked into a report"


def test_gateway_chat_sync(reporting, upstream, aepipe):
    body = {"model": "gpt-5.5#openai", "messages": [{"role": "user", "content": "hi"}]}
    raw_body = json.dumps(body).encode()
    r = call(reporting, "POST", "/v1/chat/completions?trace=1", {**AUTH, "content-type": "application/json",
                                                                 "cookie": "sid=cookie-secret"}, raw_body)
    assert r.status == 200
    (point,), (raw,) = reports(aepipe, r)
    assert point["event"] == "POST /v1/chat/completions"
    assert point["level"] == "info"
    blobs = point["blobs"]
    assert blobs[:9] == ["openai", "gpt-5.5#openai", "chat_completions", "200", "sync", "gateway", "openai/gpt-5.5",
                         f"127.0.0.1:{upstream.port}", "MISS"]
    assert len(blobs[9]) >= 16  # request id
    duration, status, req_bytes, resp_bytes, ttfb, tokens_in, tokens_out = point["doubles"]
    assert (status, req_bytes, resp_bytes, tokens_in, tokens_out) == (200, len(raw_body), len(r.body), 3, 4)
    assert 0 <= ttfb <= duration
    assert raw["message"].startswith("POST /v1/chat/completions 200 ")
    assert raw["message"].endswith("ms [openai/gpt-5.5#openai]")
    assert raw["url"] == "/v1/chat/completions?trace=1"
    assert raw["request_headers"]["authorization"] == "[REDACTED]"
    assert raw["request_headers"]["cookie"] == "[REDACTED]"
    assert raw["request_body"] == raw_body.decode()
    assert json.loads(raw["response_body"]) == r.json()
    assert raw["response_headers"]["cf-aig-cache-status"] == "MISS"
    assert raw["request_id"] == blobs[9]
    check_no_secrets(aepipe, "cookie-secret")


SSE = [b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n',
       b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
       b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":6}}\n\n', b"data: [DONE]\n\n"]


def test_gateway_stream_usage_from_the_last_chunk(reporting, upstream, aepipe):
    upstream.reply(Reply.sse(SSE))
    r = call(reporting, "POST", "/v1/chat/completions", AUTH,
             {"model": "deepseek-v4-flash#deepseek", "stream": True, "messages": []})
    assert r.body == b"".join(SSE)
    (point,), (raw,) = reports(aepipe, r)
    assert point["blobs"][4] == "stream"
    assert point["doubles"][5:] == [11, 6]
    assert raw["response_body"] == b"".join(SSE).decode()


def test_translated_anthropic_stream(reporting, upstream, aepipe):
    upstream.reply(Reply.sse(SSE))
    r = call(reporting, "POST", "/v1/messages", {"x-api-key": GATEWAY_TOKEN, "anthropic-version": "2023-06-01"},
             {"model": "gpt-5.5#openai", "max_tokens": 5, "stream": True,
              "messages": [{"role": "user", "content": "x"}]})
    assert b"event: message_stop" in r.body
    (point,), (raw,) = reports(aepipe, r)
    assert point["blobs"][:7] == ["openai", "gpt-5.5#openai", "messages", "200", "stream", "gateway",
                                  "openai/gpt-5.5"]
    assert point["doubles"][5:] == [11, 6]
    assert raw["request_headers"]["x-api-key"] == "[REDACTED]"
    check_no_secrets(aepipe)


@pytest.mark.parametrize("stream", [False, True])
def test_passthrough(reporting, upstream, aepipe, passthrough_header, stream):
    if stream:
        upstream.reply(Reply.sse(SSE))
    body = json.dumps({"model": "gpt-5.4", "stream": stream}).encode()
    r = call(reporting, "POST", "/v1/chat/completions?key=AIza-url-secret",
             {"x-apex-ai-proxy-provider": passthrough_header, "authorization": "Bearer sk-upstream-secret",
              "x-goog-api-key": "goog-secret"}, body, chunked=True)
    assert r.status == 200
    (point,), (raw,) = reports(aepipe, r)
    assert point["blobs"][:6] == [passthrough_header, "gpt-5.4", "chat_completions", "200",
                                  "stream" if stream else "sync", "passthrough"]
    assert point["doubles"][2] == len(body)
    if stream:
        assert point["doubles"][5:] == [11, 6]
    assert raw["url"] == "/v1/chat/completions?key=[REDACTED]"
    assert raw["request_headers"]["x-goog-api-key"] == "[REDACTED]"
    check_no_secrets(aepipe, "sk-upstream-secret", "goog-secret", "AIza-url-secret")


def test_proxy_errors_are_reported(reporting, aepipe):
    unauthorized = call(reporting, "POST", "/v1/chat/completions", {"authorization": "Bearer nope"},
                        {"model": "m#openai"})
    broken = call(reporting, "POST", "/v1/messages", AUTH, b"{broken")
    assert (unauthorized.status, broken.status) == (401, 400)
    points, raws = reports(aepipe, unauthorized, broken)
    by_status = {p["blobs"][3]: p for p in points}
    assert set(by_status) == {"401", "400"}
    assert all(p["level"] == "error" for p in points)
    assert by_status["400"]["blobs"][2] == "messages"
    check_no_secrets(aepipe, "nope")


def test_preflight_and_health_are_not_reported(reporting, aepipe):
    routine = [call(reporting, "OPTIONS", "/v1/chat/completions"), call(reporting, "GET", "/healthz")]
    assert [r.status for r in routine] == [204, 200]
    unauthorized = call(reporting, "POST", "/v1/chat/completions", {"authorization": "Bearer x"}, b"{}")
    assert unauthorized.status == 401
    reports(aepipe, unauthorized)  # the 401 arrives…
    time.sleep(0.5)
    sent = b"".join(r.body for r in aepipe.requests)
    for r in routine:  # …and nothing of the others does
        assert r.header("x-apex-ai-proxy-request-id").encode() not in sent


def test_reports_of_requests_ending_together(reporting, host, aepipe):
    """Each request is reported once, in full, also when many end at once. A
    Worker isolate gathers the reports of requests that end within 50 ms into
    one call per logstore; the WASI hosts make two calls per request."""
    with ThreadPoolExecutor(10) as pool:
        answers = [r for r, _ in pool.map(lambda _: chat(reporting), range(10))]
    assert all(r.status == 200 for r in answers)
    points, raws = reports(aepipe, *answers)
    assert [p["blobs"][9] for p in points] == [r["request_id"] for r in raws]
    ids = {r.header("x-apex-ai-proxy-request-id") for r in answers}
    calls = [r for r in aepipe.requests if r.path == POINT_URL and any(p["blobs"][9] in ids for p in r.json()["points"])]
    if host == "workerd":
        assert len(calls) < len(answers)
    else:
        assert len(calls) == len(answers)


def timed_call(url, *args, **kw):
    t = time.monotonic()
    r = call(url, *args, **kw)
    return r, time.monotonic() - t


def chat(url):
    return timed_call(url, "POST", "/v1/chat/completions", AUTH, {"model": "gpt-5.5#openai", "messages": []})


def wait_for_log(proxy, text, timeout=10.0):
    """Waits for `text` on the proxy's log. On wasmtime an instance collects
    its reports' answers when it serves its next request (docs/operations.md),
    so the wait keeps sending requests, as traffic would."""
    deadline = time.monotonic() + timeout
    while text not in proxy.log_text() and time.monotonic() < deadline:
        call(proxy.url, "GET", "/healthz")
        time.sleep(0.05)
    assert text in proxy.log_text(), proxy.log_text()[-2000:]


def test_aepipe_500_changes_nothing(proxies, host, aepipe):
    proxy = proxies.get(host, "report")
    aepipe.default = lambda req: Reply.json({"ok": False}, 500)
    answers = [chat(proxy.url)[0] for _ in range(3)]
    for r in answers:
        assert r.status == 200 and r.json()["choices"][0]["message"]["content"] == "hello from fake"
    reports(aepipe, *answers)
    assert call(proxy.url, "GET", "/healthz").status == 200
    wait_for_log(proxy, "/v1/apex-ai-proxy/requests/ingest answered 500")


def test_aepipe_refusing_connections_changes_nothing(proxies, host, aepipe):
    refused = proxies.get(host, "report_refused")
    for _ in range(3):
        r, _ = chat(refused.url)
        assert r.status == 200
    wait_for_log(refused, "/v1/apex-ai-proxy/raw/log failed: ")


def test_slow_aepipe_does_not_delay_the_client(reporting, aepipe, upstream):
    def slow(req):
        reply = Reply.json({"ok": True, "written": 1})
        reply.head_delay = 3.0
        return reply

    aepipe.default = slow
    r, first = chat(reporting)
    assert r.status == 200
    # While the first request's reports are still held, the next requests are served.
    others = [chat(reporting) for _ in range(3)]
    timings = [t for _, t in others]
    upstream.reply(Reply.sse(SSE))
    stream = Stream(reporting, "POST", "/v1/chat/completions", {**AUTH, "content-type": "application/json"},
                    b'{"model":"gpt-5.5#openai","stream":true}')
    t = time.monotonic()
    assert stream.read_rest() == b"".join(SSE)
    streamed = time.monotonic() - t
    assert max([first, *timings, streamed]) < 1.5, (first, timings, streamed)
    # The held reports still arrive.
    reports(aepipe, r, *[o for o, _ in others], timeout=15)


ANTHROPIC_SSE = [
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
    b'"model":"claude-x","content":[],"usage":{"input_tokens":30,"output_tokens":1}}}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":12}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]


@pytest.mark.parametrize("model,upstream_model,tokens", [
    ("claude-opus-4.7#anthropic", "claude-opus-4.7", [3, 4]),      # native: Anthropic usage shape
    ("gpt-5.5#openai", "openai/gpt-5.5", [3, 4]),                   # translated: OpenAI usage, Anthropic out
])
def test_anthropic_dialect_sync(reporting, upstream, aepipe, model, upstream_model, tokens):
    r = call(reporting, "POST", "/v1/messages", {"x-api-key": GATEWAY_TOKEN, "anthropic-version": "2023-06-01"},
             {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert r.status == 200 and r.json()["type"] == "message"
    (point,), (raw,) = reports(aepipe, r)
    assert point["blobs"][1:7] == [model, "messages", "200", "sync", "gateway", upstream_model]
    assert point["doubles"][5:] == tokens
    assert json.loads(raw["response_body"]) == r.json()


def test_anthropic_passthrough_stream(reporting, upstream, aepipe, passthrough_header):
    upstream.reply(Reply.sse(ANTHROPIC_SSE))
    r = call(reporting, "POST", "/v1/messages", {"x-apex-ai-proxy-provider": passthrough_header,
                                                 "x-api-key": "sk-ant-secret"},
             {"model": "claude-x", "max_tokens": 5, "stream": True, "messages": []})
    assert r.body == b"".join(ANTHROPIC_SSE)
    (point,), _ = reports(aepipe, r)
    assert point["blobs"][1:6] == ["claude-x", "messages", "200", "stream", "passthrough"]
    assert point["doubles"][5:] == [30, 12]
    check_no_secrets(aepipe, "sk-ant-secret")
