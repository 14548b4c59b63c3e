"""Passthrough mode (docs/passthrough.md) and mapping in it (docs/mapping.md)."""

import hashlib
import os

import pytest

from client import call
from fake_upstream import Reply

HEADER = "x-apex-ai-proxy-provider"


@pytest.mark.smoke
def test_body_and_query_are_forwarded_byte_for_byte(url, upstream, passthrough_header, host):
    raw = b'{ "model":"gpt-5.4",\t"input":"caf\xc3\xa9", "n" : 1.0e0 }'
    headers = {HEADER: passthrough_header, "x-apex-ai-proxy-type": "chat-completions",
               "authorization": "Bearer upstream-key", "x-api-key": "upstream-key-2",
               "content-type": "application/json", "x-custom": "kept", "cf-aig-authorization": "Bearer no"}
    r = call(url, "POST", "/v1/responses?include=usage&x=%2F", headers, raw)
    assert r.status == 200, r.body
    got = upstream.last()
    assert got.method == "POST"
    assert got.target == "/base/v1/responses?include=usage&x=%2F"
    assert got.body == raw
    assert got.header("authorization") == "Bearer upstream-key"
    assert got.header("x-api-key") == "upstream-key-2"
    assert got.header("x-custom") == "kept"
    assert got.header("content-length") == str(len(raw))
    for gone in (HEADER, "x-apex-ai-proxy-type", "cf-aig-authorization"):
        assert got.header(gone) is None, gone
    assert got.header("host") == f"127.0.0.1:{upstream.port}"
    assert r.json() == {"ok": True, "method": "POST", "target": "/base/v1/responses?include=usage&x=%2F"}
    assert r.header("x-upstream") == "fake"


def test_get_on_any_path(url, upstream, passthrough_header):
    r = call(url, "GET", "/v1/models", {HEADER: passthrough_header, "authorization": "Bearer k"})
    assert r.status == 200
    assert (upstream.last().method, upstream.last().target) == ("GET", "/base/v1/models")


def test_streamed_request_body_without_length(url, upstream, passthrough_header, host):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    r = call(url, "POST", "/v1/files", {HEADER: passthrough_header, "content-type": "application/octet-stream"},
             payload, chunked=True)
    assert r.status == 200, r.body
    got = upstream.last()
    assert hashlib.sha256(got.body).hexdigest() == hashlib.sha256(payload).hexdigest()
    # WASI hosts stream it on as it comes; the Worker reads a body without a
    # length (up to MAX_BODY_BYTES) first, so it knows the length: workerd would
    # end a failed chunked body normally (docs/hosts/cloudflare.md).
    expected_length = str(len(payload)) if host == "workerd" else None
    assert got.header("content-length") == expected_length


def test_large_request_body_with_length_is_intact(url, upstream, passthrough_header):
    # Every host streams it on as it comes (the Worker past 64 KiB), with its length.
    payload = os.urandom(3 * 1024 * 1024 + 17)
    r = call(url, "POST", "/v1/files", {HEADER: passthrough_header, "content-type": "application/octet-stream"},
             payload)
    assert r.status == 200, r.body
    got = upstream.last()
    assert hashlib.sha256(got.body).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert got.header("content-length") == str(len(payload))


def test_large_response_body_is_intact(url, upstream, passthrough_header):
    blob = os.urandom(5 * 1024 * 1024)
    upstream.reply(Reply(200, [("content-type", "application/octet-stream")],
                         [blob[i:i + 100_000] for i in range(0, len(blob), 100_000)]))
    r = call(url, "GET", "/v1/big", {HEADER: passthrough_header})
    assert r.status == 200
    assert hashlib.sha256(r.body).digest() == hashlib.sha256(blob).digest()


def test_upstream_status_and_errors_relayed_unchanged(url, upstream, passthrough_header):
    body = b'{"weird":"provider error shape"}'
    upstream.reply(Reply(418, [("content-type", "application/json"), ("x-req", "1")], [body], chunked=False))
    r = call(url, "POST", "/v1/chat/completions", {HEADER: passthrough_header}, b"{}")
    assert (r.status, r.body, r.header("x-req")) == (418, body, "1")


@pytest.mark.smoke
def test_mapping_changes_only_the_model(url, upstream, passthrough_header, host):
    raw = b'{"model" : "claude-opus-4.7", "max_tokens":1e3,"messages":[]}'
    headers = {HEADER: passthrough_header, "x-apex-ai-proxy-mapping": "claude-opus-4.7#mimo-v2.5-pro,a#b",
               "x-api-key": "k"}
    r = call(url, "POST", "/v1/messages", headers, raw)
    assert r.status == 200
    got = upstream.last()
    assert got.body == b'{"model" : "mimo-v2.5-pro", "max_tokens":1e3,"messages":[]}'
    assert got.header("content-length") == str(len(got.body))
    assert got.header("x-apex-ai-proxy-mapping") is None


def test_mapping_leaves_other_bodies_alone(url, upstream, passthrough_header):
    headers = {HEADER: passthrough_header, "x-apex-ai-proxy-mapping": "a#b"}
    for raw in (b'{"model":"c"}', b'{"model":42}', b"[1]", b"not json at all", b""):
        r = call(url, "POST", "/v1/chat/completions", headers, raw)
        assert r.status == 200, raw
        assert upstream.last().body == raw


def test_mapping_keeps_the_provider_suffix(url, upstream, passthrough_header):
    headers = {HEADER: passthrough_header, "x-apex-ai-proxy-mapping": "claude-opus-4.7#mimo-v2.5-pro"}
    call(url, "POST", "/v1/chat/completions", headers, {"model": "claude-opus-4.7#anthropic"})
    assert upstream.last().json()["model"] == "mimo-v2.5-pro#anthropic"


SSRF_REFUSED = [
    "127.0.0.1:{port}", "localhost:{port}", "api.localhost", "[::1]:{port}", "10.0.0.8", "172.16.3.4",
    "192.168.0.1", "169.254.169.254/latest/meta-data", "100.64.1.1", "0.0.0.0:{port}", "[::ffff:127.0.0.1]",
    "[fe80::1]", "[fd00::1]", "224.0.0.1", "http://127.0.0.1:{port}", "http://api.example.com",
]


@pytest.mark.smoke
def test_ssrf_guard_without_allow_private(proxies, host, upstream):
    strict = proxies.get(host, "strict")
    for provider in SSRF_REFUSED:
        provider = provider.format(port=upstream.port)
        r = call(strict.url, "POST", "/v1/chat/completions", {HEADER: provider}, b"{}")
        assert r.status == 403, (provider, r.body)
        assert "PASSTHROUGH_ALLOW_PRIVATE" in r.json()["error"]["message"]
    r = call(strict.url, "POST", "/v1/messages", {HEADER: "127.0.0.1"}, b"{}")
    assert (r.status, r.json()["type"]) == (403, "error")
    assert upstream.requests == []
    assert call(strict.url, "GET", "/healthz").status == 200


def test_allowlist(proxies, host, upstream):
    listed = proxies.get(host, "allowlist")
    for provider in ("example.org", "example.com", "api.openai.com.evil.org"):
        r = call(listed.url, "POST", "/v1/chat/completions", {HEADER: provider}, b"{}")
        assert r.status == 403, provider
        assert "PASSTHROUGH_ALLOWED_HOSTS" in r.json()["error"]["message"]
    r = call(listed.url, "POST", "/v1/chat/completions", {HEADER: "localhost"}, b"{}")
    assert r.status == 403  # the allowlist never opens private hosts


def test_invalid_provider_headers(url, upstream):
    for provider in ("user:pw@api.example.com", "api.example.com?x=1", "api.example.com#f", "exa mple.com",
                     "ftp://api.example.com", "api.example.com:99999", "127.1", "[::1", "bücher.de"):
        r = call(url, "POST", "/v1/chat/completions", {HEADER: provider.encode("utf-8").decode("latin-1")}, b"{}")
        assert r.status == 400, (provider, r.body)
    assert upstream.requests == []


def test_method_not_allowed(url, upstream, passthrough_header):
    r = call(url, "PUT", "/v1/messages", {HEADER: passthrough_header}, b"{}")
    assert r.status == 405
    assert r.json()["type"] == "error"
