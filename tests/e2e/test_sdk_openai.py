"""The official OpenAI Python SDK against the running proxy, in both modes."""

import gzip
import json
import zlib

import openai
import pytest

from conftest import GATEWAY_TOKEN
from fake_upstream import Reply


def chunk(delta: dict, finish=None, usage=None) -> bytes:
    body = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
            "usage": usage}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


STREAM = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hello"}), chunk({"content": " world"}),
          chunk({}, finish="stop"), chunk({}, usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
          b"data: [DONE]\n\n"]


def gateway_client(url):
    return openai.OpenAI(api_key=GATEWAY_TOKEN, base_url=f"{url}/v1", max_retries=0)


def passthrough_client(url, provider):
    return openai.OpenAI(api_key="sk-upstream", base_url=f"{url}/v1", max_retries=0,
                         default_headers={"X-APEX-AI-PROXY-PROVIDER": provider,
                                          "X-APEX-AI-PROXY-TYPE": "chat-completions"})


@pytest.mark.smoke
def test_gateway_create(url, upstream, host):
    r = gateway_client(url).chat.completions.create(
        model="deepseek-v4-pro#deepseek", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "hello from fake"
    assert r.usage.total_tokens == 7
    got = upstream.last()
    assert got.path == "/v1/acc/gw/compat/chat/completions"
    assert got.json()["model"] == "deepseek/deepseek-v4-pro"
    assert got.header("authorization") is None


def test_gateway_stream(url, upstream):
    upstream.reply(Reply.sse(STREAM))
    stream = gateway_client(url).chat.completions.create(
        model="gpt-5.5#openai", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello world"
    assert chunks[-1].usage.completion_tokens == 2
    assert upstream.last().json()["stream_options"] == {"include_usage": True}


def test_gateway_error_is_a_typed_exception(url, upstream):
    upstream.reply(Reply.json({"success": False, "errors": [{"code": 2005, "message": "rate limited"}]}, 429))
    with pytest.raises(openai.RateLimitError) as err:
        gateway_client(url).chat.completions.create(model="gpt-5.5#openai", messages=[])
    assert "rate limited" in str(err.value)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="wrong", base_url=f"{url}/v1", max_retries=0).chat.completions.create(
            model="gpt-5.5#openai", messages=[])
    with pytest.raises(openai.BadRequestError) as err:
        gateway_client(url).chat.completions.create(model="gpt-5.5", messages=[])
    assert "<model>#<provider>" in str(err.value)


def test_passthrough_create_and_stream(url, upstream, passthrough_header):
    client = passthrough_client(url, passthrough_header)
    r = client.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "hello from fake"
    got = upstream.last()
    assert got.path == "/base/v1/chat/completions"
    assert got.header("authorization") == "Bearer sk-upstream"
    assert got.json()["model"] == "gpt-5.4"

    upstream.reply(Reply.sse(STREAM))
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-5.4", messages=[{"role": "user", "content": "hi"}], stream=True) if c.choices)
    assert text == "Hello world"


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_passthrough_compressed_answer(url, upstream, passthrough_header, coding):
    """The SDK (httpx) asks for gzip and deflate, and real APIs compress: the
    answer reaches the SDK whole, whichever way the host relays it."""
    answer = {"id": "chatcmpl-z", "object": "chat.completion", "created": 1, "model": "gpt-5.4",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "squeezed " * 100},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 1, "completion_tokens": 100, "total_tokens": 101}}
    packed = {"gzip": gzip.compress, "deflate": zlib.compress}[coding](json.dumps(answer).encode())
    upstream.reply(Reply(200, [("content-type", "application/json"), ("content-encoding", coding)], [packed],
                         chunked=False))
    client = passthrough_client(url, passthrough_header)
    r = client.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "squeezed " * 100
    assert "gzip" in upstream.last().header("accept-encoding")


def test_passthrough_other_endpoints(url, upstream, passthrough_header):
    upstream.reply(Reply.json({"object": "list", "data": [{"id": "m1", "object": "model", "created": 1,
                                                            "owned_by": "x"}]}))
    models = passthrough_client(url, passthrough_header).models.list()
    assert [m.id for m in models] == ["m1"]
    assert (upstream.last().method, upstream.last().path) == ("GET", "/base/v1/models")
    upstream.reply(Reply.json({"object": "list", "model": "e", "data": [{"object": "embedding", "index": 0,
                               "embedding": [0.5, 0.25]}], "usage": {"prompt_tokens": 1, "total_tokens": 1}}))
    e = passthrough_client(url, passthrough_header).embeddings.create(model="e", input="x")
    assert e.data[0].embedding == [0.5, 0.25]


@pytest.mark.smoke
def test_gateway_models_list(url, upstream, host):
    models = gateway_client(url).models.list()
    assert [m.id for m in models] == ["deepseek-v4-pro#deepseek", "gpt-5.5#openai", "claude-opus-4.7#anthropic"]
    assert [m.owned_by for m in models] == ["deepseek", "openai", "anthropic"]
    assert gateway_client(url).models.retrieve("gpt-5.5#openai").id == "gpt-5.5#openai"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="wrong", base_url=f"{url}/v1", max_retries=0).models.list()
    assert upstream.requests == []
