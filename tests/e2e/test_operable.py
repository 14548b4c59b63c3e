"""Issue 12: running the proxy is not blind. One access-log line per request on
every host, errors that read as their fix, the headers that say which way a
request went, and reports that say which side failed."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time

import pytest

from client import Stream, call
from conftest import GATEWAY_TOKEN
from fake_upstream import Reply
from hosts import ROOT, free_port
from test_report import reports

AUTH = {"authorization": f"Bearer {GATEWAY_TOKEN}"}
HEADER = "x-apex-ai-proxy-provider"
ID = "x-apex-ai-proxy-request-id"
SSE = [b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'] * 3


def line_of(proxy, response, timeout=10.0) -> str:
    """The access-log line of `response`, found by its request id."""
    request_id = response.header(ID)
    assert request_id, "every response carries its request id"
    deadline = time.monotonic() + timeout
    while True:
        lines = [ln for ln in proxy.log_text().splitlines() if request_id in ln]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 1, (request_id, proxy.log_text()[-3000:])
    return lines[0]


# 1. The access log -----------------------------------------------------------

def test_a_line_per_request_in_words(proxy, host, upstream, passthrough_header):
    mapping = {"x-apex-ai-proxy-mapping": "fast#deepseek-v4-flash#deepseek"}
    ok = call(proxy.url, "POST", "/v1/chat/completions?key=query-secret", {**AUTH, **mapping},
              {"model": "fast", "messages": [{"role": "user", "content": "hi"}]})
    assert ok.status == 200
    line = line_of(proxy, ok)
    pattern = (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z POST /v1/chat/completions 200 gateway deepseek "
               r"fast->deepseek/deepseek-v4-flash ttfb=\d+\.\dms total=\d+\.\dms in=(\d+)B out=(\d+)B id=[0-9a-f]+$")
    match = re.match(pattern, line)
    assert match, line
    assert int(match.group(2)) == len(ok.body)
    for secret in ("query-secret", GATEWAY_TOKEN, "key="):
        assert secret not in line

    denied = call(proxy.url, "POST", "/v1/messages", {"x-api-key": "wrong"}, {"model": "m#openai"})
    assert denied.status == 401
    assert " POST /v1/messages 401 gateway " in line_of(proxy, denied)

    dead = f"http://127.0.0.1:{free_port()}"
    down = call(proxy.url, "POST", "/v1/chat/completions", {HEADER: dead}, b"{}")
    assert down.status == 502
    line = line_of(proxy, down)
    assert " 502 passthrough " in line and " failed=upstream: upstream 127.0.0.1:" in line, line
    assert "ErrorCode" not in line and "internal error" not in line

    health = call(proxy.url, "GET", "/healthz")
    time.sleep(0.3)
    assert health.header(ID) not in proxy.log_text(), "health checks are logged at LOG_LEVEL=debug only"


def test_json_lines_for_log_shippers(proxies, host, upstream):
    proxy = proxies.get(host, "json_log")
    upstream.reply(Reply.sse(SSE))
    r = call(proxy.url, "POST", "/v1/chat/completions", AUTH, {"model": "gpt-5.5#openai", "stream": True})
    entry = json.loads(line_of(proxy, r))
    assert list(entry)[:4] == ["time", "method", "path", "status"]
    assert {k: entry[k] for k in ("method", "path", "status", "mode", "provider", "model", "upstream_model")} == {
        "method": "POST", "path": "/v1/chat/completions", "status": 200, "mode": "gateway",
        "provider": "openai", "model": "gpt-5.5#openai", "upstream_model": "openai/gpt-5.5"}
    assert entry["response_bytes"] == len(r.body) == len(b"".join(SSE))
    assert 0 <= entry["ttfb_ms"] <= entry["duration_ms"]
    assert entry["failed_side"] is None and entry["request_id"] == r.header(ID)


def test_errors_only(proxies, host):
    proxy = proxies.get(host, "errors_only")
    ok = call(proxy.url, "POST", "/v1/chat/completions", AUTH, {"model": "gpt-5.5#openai"})
    missing = call(proxy.url, "GET", "/nowhere", AUTH)
    assert (ok.status, missing.status) == (200, 404)
    assert " GET /nowhere 404 " in line_of(proxy, missing)
    time.sleep(0.3)
    assert ok.header(ID) not in proxy.log_text()


def test_debug_adds_health_checks_and_the_runtimes_words(proxies, host):
    proxy = proxies.get(host, "debug_log")
    health = call(proxy.url, "GET", "/healthz")
    assert " GET /healthz 200 " in line_of(proxy, health)
    before = proxy.log_text().count("apex-ai-proxy: upstream: ")
    down = call(proxy.url, "POST", "/v1/chat/completions", {HEADER: f"http://127.0.0.1:{free_port()}"}, b"{}")
    assert down.status == 502 and " failed=upstream: " in line_of(proxy, down)
    assert proxy.log_text().count("apex-ai-proxy: upstream: ") == before + 1, proxy.log_text()[-2000:]


# 2. Which side failed: the reporting race, made to happen -----------------------

def test_a_client_that_hangs_up_mid_response_is_not_an_upstream_error(proxies, host, upstream, aepipe):
    proxy = proxies.get(host, "report")
    upstream.reply(Reply.sse([b'data: {"choices":[]}\n\n'] * 200, interval=0.05))
    stream = Stream(proxy.url, "POST", "/v1/chat/completions", {**AUTH, "content-type": "application/json"},
                    b'{"model":"gpt-5.5#openai","stream":true}')
    assert stream.status == 200
    stream.read_until(b"\n\n", timeout=10)
    request_id = stream.response.getheader(ID)
    stream.conn.sock.shutdown(socket.SHUT_RDWR)
    stream.conn.close()

    class Ended:  # what reports() and line_of() need of a response
        def header(self, name):
            return request_id if name == ID else None

    (point,), (raw,) = reports(aepipe, Ended(), timeout=20)
    assert (point["level"], raw["failed_side"], point["blobs"][3]) == ("info", "client", "200")
    assert " failed=client: the client went away" in line_of(proxy, Ended())


def test_a_slow_reader_is_no_failure(proxies, host, upstream, aepipe):
    proxy = proxies.get(host, "report")
    # 4 MB sent at once, far more than the socket buffers hold, taken 256 KB
    # every 0.1 s: the proxy's writes wait on the reader for about 1.5 s.
    events = [b'data: {"choices":[],"pad":"' + b"x" * 8000 + b'"}\n\n'] * 512
    upstream.reply(Reply.sse(events))
    stream = Stream(proxy.url, "POST", "/v1/chat/completions", {**AUTH, "content-type": "application/json"},
                    b'{"model":"gpt-5.5#openai","stream":true}')
    while chunk := stream.response.read(256 * 1024):
        stream.received += chunk
        time.sleep(0.1)
    body = stream.read_rest()
    assert body == b"".join(events)

    class Read:
        def header(self, name):
            return stream.response.getheader(name)

    (point,), (raw,) = reports(aepipe, Read(), timeout=20)
    assert (point["level"], raw["failed_side"], raw["response_bytes"]) == ("info", "", len(body))


# 3. Errors that read as their fix ------------------------------------------------

def test_placeholder_ids_are_named(proxies, host):
    proxy = proxies.get(host, "placeholders")
    r = call(proxy.url, "POST", "/v1/chat/completions", AUTH, {"model": "m#openai"})
    assert r.status == 421
    message = r.json()["error"]["message"]
    assert 'ACCOUNT_ID is a placeholder ("<your Cloudflare account id>")' in message, message
    assert 'GATEWAY_ID is a placeholder ("<your AI Gateway id>")' in message, message
    assert "GATEWAY_BASE_URL" not in message


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_sdks_do_not_retry_a_configuration_error(proxies, host, sdk):
    bare = proxies.get(host, "bare")
    before = bare.log_text().count(" 421 ")
    if sdk == "openai":
        import openai
        client = openai.OpenAI(api_key="anything", base_url=f"{bare.url}/v1", max_retries=3)
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="m#openai", messages=[{"role": "user", "content": "hi"}])
    else:
        import anthropic
        client = anthropic.Anthropic(api_key="anything", base_url=bare.url, max_retries=3)
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(model="m#openai", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 421
    assert "GATEWAY_TOKEN is not set" in str(caught.value)
    time.sleep(0.3)
    assert bare.log_text().count(" 421 ") == before + 1, "one request: the SDK did not retry"


@pytest.mark.parametrize("name,meant", [("X-APEX-AI-PROXY-PROVIDR", "X-APEX-AI-PROXY-PROVIDER"),
                                        ("x-apex-ai-mapping", "X-APEX-AI-PROXY-MAPPING")])
def test_a_misspelled_header_is_named(url, upstream, name, meant):
    r = call(url, "POST", "/v1/chat/completions", {name: "api.example.com", **AUTH}, {"model": "m#openai"})
    assert r.status == 400
    assert f"did you mean {meant}?" in r.json()["error"]["message"]
    r = call(url, "POST", "/v1/messages", {name: "x"}, {"model": "m#openai"})
    assert r.status == 400 and r.json()["type"] == "error", "in the client's dialect"
    assert upstream.requests == []


def test_a_plain_http_upstream_written_without_a_scheme(url, upstream):
    r = call(url, "POST", "/v1/chat/completions", {HEADER: f"127.0.0.1:{upstream.port}"}, b"{}")
    assert r.status == 502
    message = r.json()["error"]["message"]
    assert message.startswith(f"the TLS handshake with upstream 127.0.0.1:{upstream.port} failed; "
                              "is the upstream plain HTTP? then write http://"), message


def test_openai_error_codes_are_strings(url):
    r = call(url, "POST", "/v1/chat/completions", {"authorization": "Bearer wrong"}, {"model": "m#openai"})
    assert r.json()["error"] == {"message": "invalid gateway token", "type": "authentication_error",
                                 "param": None, "code": "invalid_api_key"}
    r = call(url, "POST", "/v1/chat/completions", AUTH, b"{not json")
    assert r.status == 400 and r.json()["error"]["code"] is None


# 4. Which way a request went ---------------------------------------------------------

def test_mode_and_upstream_headers(url, upstream, passthrough_header):
    gateway = call(url, "POST", "/v1/chat/completions", AUTH, {"model": "gpt-5.5#openai"})
    assert (gateway.header("x-apex-ai-proxy-mode"), gateway.header("x-apex-ai-proxy-upstream")) == (
        "gateway", f"127.0.0.1:{upstream.port}")
    passthrough = call(url, "POST", "/v1/chat/completions", {HEADER: passthrough_header}, b"{}")
    assert (passthrough.header("x-apex-ai-proxy-mode"), passthrough.header("x-apex-ai-proxy-upstream")) == (
        "passthrough", f"127.0.0.1:{upstream.port}")
    refused = call(url, "POST", "/v1/chat/completions", {"authorization": "Bearer wrong"}, {"model": "m#openai"})
    assert refused.header("x-apex-ai-proxy-mode") == "gateway"


def test_a_version_segment_in_both_halves_is_given_once(url, upstream):
    r = call(url, "POST", "/v1/chat/completions", {HEADER: f"http://127.0.0.1:{upstream.port}/api/v1"}, b"{}")
    assert r.status == 200
    assert upstream.last().path == "/api/v1/chat/completions"


# 5. What the operator sees at startup ------------------------------------------------

def test_serve_script_prints_the_banner_and_a_line_per_request(host, upstream):
    if host != "wasmtime":
        pytest.skip("scripts/serve.sh runs wasmtime serve")
    port = free_port()
    env = {**os.environ, "APEX_ADDR": f"127.0.0.1:{port}", "ACCOUNT_ID": "acct", "GATEWAY_ID": "gw",
           "GATEWAY_TOKEN": GATEWAY_TOKEN, "GATEWAY_BASE_URL": f"{upstream.url}/v1", "MAX_BODY_BYTES": "1000000"}
    proc = subprocess.Popen([str(ROOT / "scripts/serve.sh")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        seen = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "Serving HTTP on" in line:
                break
        banner = "".join(seen)
        assert f"apex-ai-proxy 0.1.0 on http://127.0.0.1:{port}" in banner, banner
        assert "gateway mode: on (account acct, gateway gw via " in banner, banner
        assert "passthrough: on, to public hosts only" in banner and "limits: MAX_BODY_BYTES=1000000" in banner
        assert GATEWAY_TOKEN not in banner
        r = call(f"http://127.0.0.1:{port}", "POST", "/v1/chat/completions", AUTH, {"model": "gpt-5.5#openai"})
        assert r.status == 200
        logged = proc.stdout.readline()
        assert " POST /v1/chat/completions 200 gateway openai " in logged and r.header(ID) in logged, logged
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=10)


def test_the_worker_says_once_what_is_configured(proxies, host):
    if host != "workerd":
        pytest.skip("the WASI hosts' banner is the serve script's")
    proxy = proxies.get(host, "errors_only")
    for _ in range(3):
        call(proxy.url, "GET", "/nowhere")
    text = proxy.log_text()
    assert text.count("gateway mode: on (account acc, gateway gw via ") == 1, text[-3000:]
    assert "access log: errors only, text" in text
