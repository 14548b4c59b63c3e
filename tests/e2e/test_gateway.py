"""Gateway mode (docs/gateway.md) end to end: what the fake gateway received, byte by byte,
and what the client got back."""

import json
import time

import pytest

from client import call
from conftest import AEPIPE_TOKEN, GATEWAY_TOKEN
from fake_upstream import Reply

AUTH = {"authorization": f"Bearer {GATEWAY_TOKEN}"}
BASE = "/v1/acc/gw"

# (client model, upstream path, upstream body model): the provider table of docs/gateway.md, every provider.
PROVIDERS = [
    ("gpt-5.5#openai", "/compat/chat/completions", "openai/gpt-5.5"),
    ("claude-opus-4.7#anthropic", "/compat/chat/completions", "anthropic/claude-opus-4.7"),
    ("gemini-2.0-flash#google-ai-studio", "/compat/chat/completions", "google-ai-studio/gemini-2.0-flash"),
    ("llama-3.3-70b-versatile#groq", "/compat/chat/completions", "groq/llama-3.3-70b-versatile"),
    ("mistral-large-latest#mistral", "/compat/chat/completions", "mistral/mistral-large-latest"),
    ("grok-4#grok", "/compat/chat/completions", "grok/grok-4"),
    ("deepseek-v4-pro#deepseek", "/compat/chat/completions", "deepseek/deepseek-v4-pro"),
    ("llama3.1-8b#cerebras", "/compat/chat/completions", "cerebras/llama3.1-8b"),
    ("command-a-03-2025#cohere", "/compat/chat/completions", "cohere/command-a-03-2025"),
    ("sonar-pro#perplexity-ai", "/perplexity-ai/chat/completions", "sonar-pro"),
    ("openai/gpt-5#openrouter", "/openrouter/v1/chat/completions", "openai/gpt-5"),
    ("my-gpt5-deploy#azure-openai", "/azure-openai/res/my-gpt5-deploy/chat/completions", "my-gpt5-deploy"),
    ("@cf/meta/llama-3.1-8b-instruct#workers-ai", "/workers-ai/v1/chat/completions", "@cf/meta/llama-3.1-8b-instruct"),
    ("google-vertex-ai/gemini-2.5-pro#compat", "/compat/chat/completions", "google-vertex-ai/gemini-2.5-pro"),
]


@pytest.mark.parametrize("model,path,body_model", PROVIDERS, ids=[p[0].split("#")[1] for p in PROVIDERS])
def test_every_provider_routes_to_its_gateway_url(url, upstream, model, path, body_model):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5}
    r = call(url, "POST", "/v1/chat/completions", {**AUTH, "x-api-key": GATEWAY_TOKEN}, body)
    assert r.status == 200, r.body
    got = upstream.last()
    assert got.method == "POST"
    assert got.path == BASE + path
    if model.endswith("#azure-openai"):
        assert got.query == "api-version=2025-04-01-preview"
    else:
        assert got.query is None
    assert got.json() == {**body, "model": body_model}
    assert got.header("cf-aig-authorization") == f"Bearer {GATEWAY_TOKEN}"
    assert got.header("content-type") == "application/json"
    assert got.header("authorization") is None and got.header("x-api-key") is None
    assert GATEWAY_TOKEN.encode() not in got.body
    # The upstream's answer comes back with its status and cache header.
    assert r.json()["model"] == body_model
    assert r.header("cf-aig-cache-status") == "MISS"
    assert r.header("access-control-allow-origin") == "*"


@pytest.mark.smoke
def test_chat_body_is_forwarded_byte_for_byte_but_the_model(url, upstream, host):
    raw = b'{"messages":[{"role":"user","content":"h\\u00e9 \xe2\x82\xac"}],\n  "model" : "gpt-5.5#openai", "n":1.50}'
    r = call(url, "POST", "/v1/chat/completions", {**AUTH, "content-type": "application/json"}, raw)
    assert r.status == 200, r.body
    assert upstream.last().body == raw.replace(b'"gpt-5.5#openai"', b'"openai/gpt-5.5"')


@pytest.mark.smoke
def test_native_anthropic_is_lossless(url, upstream, host):
    body = {
        "model": "claude-opus-4.7#anthropic",
        "max_tokens": 1024,
        "thinking": {"type": "enabled", "budget_tokens": 512},
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}},
            {"type": "text", "text": "hi"}]}],
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
    }
    raw = json.dumps(body, indent=1).encode()
    headers = {"x-api-key": GATEWAY_TOKEN, "anthropic-version": "2023-06-01",
               "anthropic-beta": "interleaved-thinking-2025-05-14", "content-type": "application/json"}
    r = call(url, "POST", "/v1/messages", headers, raw)
    assert r.status == 200, r.body
    got = upstream.last()
    assert got.path == BASE + "/anthropic/v1/messages"
    assert got.body == raw.replace(b'"claude-opus-4.7#anthropic"', b'"claude-opus-4.7"')
    assert got.header("anthropic-version") == "2023-06-01"
    assert got.header("anthropic-beta") == "interleaved-thinking-2025-05-14"
    assert got.header("x-api-key") is None
    assert r.json()["type"] == "message"


def test_cf_aig_control_headers_pass_but_not_authorization(url, upstream):
    controls = {"cf-aig-cache-ttl": "3600", "cf-aig-skip-cache": "true", "cf-aig-cache-key": "k1",
                "cf-aig-metadata": '{"team":"a"}', "cf-aig-request-timeout": "5000", "cf-aig-max-attempts": "2",
                "cf-aig-retry-delay": "100", "cf-aig-backoff": "exponential", "cf-aig-collect-log": "false",
                "cf-aig-event-id": "ev-1"}
    headers = {**AUTH, **controls, "cf-aig-authorization": "Bearer client-forged", "connection": "keep-alive",
               "anthropic-version": "2023-06-01", "x-custom": "no"}
    r = call(url, "POST", "/v1/chat/completions", headers, {"model": "m#groq"})
    assert r.status == 200
    got = upstream.last()
    for k, v in controls.items():
        assert got.header(k) == v, k
    assert got.header_all("cf-aig-authorization") == [f"Bearer {GATEWAY_TOKEN}"]
    assert got.header("x-custom") is None
    assert got.header("anthropic-version") is None


def test_mistral_drops_include_usage(url, upstream):
    body = {"model": "mistral-small#mistral", "stream": True, "stream_options": {"include_usage": True},
            "messages": []}
    upstream.reply(Reply.sse([b"data: [DONE]\n\n"]))
    r = call(url, "POST", "/v1/chat/completions", AUTH, body)
    assert r.status == 200
    assert upstream.last().json() == {"model": "mistral/mistral-small", "stream": True, "messages": []}


@pytest.mark.smoke
def test_mapping_in_gateway_mode(url, upstream, host):
    headers = {**AUTH, "x-apex-ai-proxy-mapping": "claude-opus-4.7#deepseek-v4-pro, gpt-4o#sonar#perplexity-ai"}
    r = call(url, "POST", "/v1/chat/completions", headers, {"model": "claude-opus-4.7#deepseek"})
    assert r.status == 200
    assert upstream.last().json()["model"] == "deepseek/deepseek-v4-pro"
    r = call(url, "POST", "/v1/chat/completions", headers, {"model": "gpt-4o"})
    assert r.status == 200
    assert upstream.last().path == BASE + "/perplexity-ai/chat/completions"
    assert upstream.last().json()["model"] == "sonar"


def test_upstream_errors_keep_status_in_the_client_dialect(url, upstream):
    cf = {"success": False, "errors": [{"code": 2009, "message": "Unauthorized"}], "result": {}}
    upstream.reply(Reply.json(cf, status=401))
    r = call(url, "POST", "/v1/chat/completions", AUTH, {"model": "m#openai"})
    assert r.status == 401
    assert r.json() == {"error": {"message": "Unauthorized (code 2009)", "type": "authentication_error",
                                  "param": None, "code": "invalid_api_key"}}

    upstream.reply(Reply.json({"error": {"message": "slow down", "type": "rate_limit_exceeded"}}, status=429,
                              headers=[("retry-after", "7")]))
    r = call(url, "POST", "/v1/messages", AUTH, {"model": "claude-x#anthropic", "max_tokens": 1, "messages": []})
    assert r.status == 429
    assert r.header("retry-after") == "7"
    assert r.json() == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}

    native = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream.reply(Reply.json(native, status=529))
    r = call(url, "POST", "/v1/messages", AUTH, {"model": "claude-x#anthropic", "max_tokens": 1, "messages": []})
    assert (r.status, r.json()) == (529, native)


@pytest.mark.smoke
def test_auth_is_required_and_checked(url, upstream, host):
    body = {"model": "m#openai"}
    for headers in ({}, {"authorization": "Bearer wrong"}, {"x-api-key": "wrong"},
                    {"authorization": GATEWAY_TOKEN}):
        r = call(url, "POST", "/v1/chat/completions", headers, body)
        assert r.status == 401, headers
        assert r.json()["error"]["type"] == "authentication_error"
    r = call(url, "POST", "/v1/messages", {"x-api-key": "wrong"}, body)
    assert r.status == 401
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "authentication_error"
    assert upstream.requests == []
    assert call(url, "POST", "/v1/chat/completions", {"x-api-key": GATEWAY_TOKEN}, body).status == 200


def test_unconfigured_gateway_fails_closed(proxies, host, upstream):
    bare = proxies.get(host, "bare")
    r = call(bare.url, "POST", "/v1/chat/completions", {"authorization": "Bearer anything"}, {"model": "m#openai"})
    assert r.status == 421, "a configuration error is a status no SDK retries"
    assert r.json()["error"]["code"] == "proxy_not_configured"
    message = r.json()["error"]["message"]
    for name in ("GATEWAY_TOKEN", "ACCOUNT_ID", "GATEWAY_ID"):
        assert f"{name} is not set" in message, message
    assert upstream.requests == []


def test_bad_requests_in_each_dialect(url, upstream):
    cases = [
        ("/v1/chat/completions", b"{not json", 400),
        ("/v1/chat/completions", b"[1,2]", 400),
        ("/v1/chat/completions", b'{"messages":[]}', 400),
        ("/v1/chat/completions", b'{"model":"gpt-5.5"}', 400),
        ("/v1/chat/completions", b'{"model":"gpt-5.5#nope"}', 400),
        ("/v1/messages", b'{"model":"gpt-5.5#nope"}', 400),
        ("/v1/messages", b"{", 400),
    ]
    for path, body, status in cases:
        r = call(url, "POST", path, {**AUTH, "content-type": "application/json"}, body)
        assert r.status == status, (path, body, r.body)
        if path.endswith("/messages"):
            assert r.json()["type"] == "error", r.body
            assert r.json()["error"]["type"] == "invalid_request_error"
        else:
            assert r.json()["error"]["type"] == "invalid_request_error", r.body
    r = call(url, "POST", "/v1/chat/completions", AUTH, {"model": "gpt-5.5#nope"})
    assert "openai, anthropic, google-ai-studio" in r.json()["error"]["message"]
    assert upstream.requests == []


def test_tokens_as_plain_secrets(proxies, host, upstream, aepipe):
    """On Workers without Secrets Store bindings, `wrangler secret put GATEWAY_TOKEN`
    / `AEPIPE_TOKEN` work the same (on WASI hosts these are plain variables)."""
    plain = proxies.get(host, "plain_secrets")
    r = call(plain.url, "POST", "/v1/chat/completions", AUTH, {"model": "m#openai"})
    assert r.status == 200
    assert upstream.last().header("cf-aig-authorization") == f"Bearer {GATEWAY_TOKEN}"
    assert call(plain.url, "POST", "/v1/chat/completions", {"authorization": "Bearer x"}, {}).status == 401
    # Both requests reported with the plain AEPIPE_TOKEN (a Worker may send
    # the two requests' entries in one call per logstore).
    def entries():
        return [e for r in aepipe.requests for e in r.json().get("points", r.json().get("logs", []))]

    deadline = time.monotonic() + 10
    while len(entries()) < 4 and time.monotonic() < deadline:
        aepipe.wait_for(len(aepipe.requests) + 1, 0.2)
    assert len(entries()) == 4
    assert all(r.header("authorization") == f"Bearer {AEPIPE_TOKEN}" for r in aepipe.requests)
