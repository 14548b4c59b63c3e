"""What the proxy answers by itself (docs/design.md): preflight, health, bad routes and
methods, body limits, upstream failures; and that it keeps serving after each."""

import tomllib

import pytest

from client import call
from conftest import GATEWAY_TOKEN
from fake_upstream import Reply
from hosts import ROOT, free_port

AUTH = {"authorization": f"Bearer {GATEWAY_TOKEN}"}
CORS_HEADERS = ["authorization", "content-type", "x-api-key", "anthropic-version", "anthropic-beta",
                "x-apex-ai-proxy-provider", "x-apex-ai-proxy-type", "x-apex-ai-proxy-mapping"]


@pytest.mark.smoke
def test_preflight(url, upstream, host):
    r = call(url, "OPTIONS", "/v1/messages", {"origin": "https://app.example", "access-control-request-method": "POST",
                                               "access-control-request-headers": "x-api-key"})
    assert r.status == 204
    assert r.body == b""
    assert r.header("access-control-allow-origin") == "*"
    assert r.header("access-control-allow-methods") == "GET, POST, OPTIONS"
    assert r.header("access-control-max-age") == "86400"
    allowed = [h.strip() for h in r.header("access-control-allow-headers").split(",")]
    for name in CORS_HEADERS:
        assert name in allowed
    assert upstream.requests == []


@pytest.mark.smoke
def test_healthz(url, host):
    r = call(url, "GET", "/healthz")
    assert r.status == 200
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    # The main profile: gateway settings, no aepipe.
    assert r.json() == {"status": "ok", "version": version,
                        "modes": {"gateway": True, "passthrough": True, "reporting": False}}
    assert r.header("x-apex-ai-proxy-version") == version
    assert r.header("access-control-allow-origin") == "*"
    assert call(url, "POST", "/v1/embeddings", AUTH, {}).header("x-apex-ai-proxy-version") == version


def test_not_found_and_method_not_allowed(url):
    r = call(url, "POST", "/v1/embeddings", AUTH, {"model": "m#openai"})
    assert r.status == 404
    assert "X-APEX-AI-PROXY-PROVIDER" in r.json()["error"]["message"]
    r = call(url, "GET", "/v1/chat/completions", AUTH)
    assert (r.status, r.json()["error"]["type"]) == (405, "invalid_request_error")
    r = call(url, "GET", "/v1/messages", AUTH)
    assert (r.status, r.json()["type"]) == (405, "error")
    assert r.header("access-control-allow-origin") == "*"


def test_body_limits(url, upstream, passthrough_header):
    big = b"x" * (8 * 1024 * 1024 + 1)
    # Declared too large: refused before reading.
    r = call(url, "POST", "/v1/chat/completions", AUTH, big)
    assert r.status == 413
    assert "MAX_BODY_BYTES" in r.json()["error"]["message"]
    # Gateway body without a length, read up to the limit.
    r = call(url, "POST", "/v1/messages", AUTH, big, chunked=True)
    assert (r.status, r.json()["type"]) == (413, "error")
    # Passthrough streamed body stopped at the limit.
    r = call(url, "POST", "/v1/chat/completions", {"x-apex-ai-proxy-provider": passthrough_header}, big, chunked=True)
    assert r.status == 413
    # Passthrough body with a length: refused, or stopped at the limit.
    r = call(url, "POST", "/v1/chat/completions", {"x-apex-ai-proxy-provider": passthrough_header}, big)
    assert r.status == 413
    assert upstream.requests == [] or all(len(got.body) < len(big) for got in upstream.requests)
    assert call(url, "GET", "/healthz").status == 200


@pytest.mark.smoke
def test_unreachable_upstream_is_502(url, host):
    dead = f"http://127.0.0.1:{free_port()}"
    r = call(url, "POST", "/v1/messages", {"x-apex-ai-proxy-provider": dead}, b"{}")
    assert r.status == 502
    assert r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "api_error"
    r = call(url, "POST", "/v1/chat/completions", {"x-apex-ai-proxy-provider": dead}, b"{}")
    assert (r.status, r.json()["error"]["type"]) == (502, "api_error")
    # Plain words, never a runtime's error name. workerd reports a refused
    # connection only as "Network connection lost".
    words = {"workerd": "closed the connection before answering"}.get(host, "refused the connection")
    assert r.json()["error"]["message"].startswith(f"upstream {dead[7:]} {words}"), r.body


def test_slow_upstream_is_504(proxies, host, upstream, passthrough_header):
    slow = proxies.get(host, "slow")
    late = Reply.json({"late": True})
    late.head_delay = 3
    upstream.reply(late)
    r = call(slow.url, "POST", "/v1/chat/completions", {"x-apex-ai-proxy-provider": passthrough_header}, b"{}")
    assert r.status == 504, r.body
    assert "did not answer in time (UPSTREAM_FIRST_BYTE_TIMEOUT_MS)" in r.json()["error"]["message"]
    late = Reply.json({"late": True})
    late.head_delay = 3
    upstream.reply(late)
    r = call(slow.url, "POST", "/v1/chat/completions", AUTH, {"model": "m#openai"})
    assert r.status == 504
    assert call(slow.url, "GET", "/healthz").status == 200


def test_keeps_serving_after_bad_input(url, upstream):
    for _ in range(3):
        call(url, "POST", "/v1/chat/completions", AUTH, b"\x00\xff garbage")
        call(url, "POST", "/v1/chat/completions", {"x-apex-ai-proxy-provider": "a@b"}, b"{}")
    r = call(url, "POST", "/v1/chat/completions", AUTH, {"model": "m#openai"})
    assert r.status == 200
