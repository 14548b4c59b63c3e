"""The official Anthropic Python SDK against `/v1/messages` routed to
OpenAI-format providers (docs/translation.md, "Messages"): the fake gateway answers in OpenAI format,
the SDK must get a correct Anthropic experience."""

import base64

import anthropic
import pytest

from conftest import GATEWAY_TOKEN
from fake_upstream import Reply
from hosts import ROOT

FIXTURES = ROOT / "tests/fixtures/openai_sse"
MODEL = "deepseek-v4-pro#deepseek"


def client(url, key=GATEWAY_TOKEN):
    return anthropic.Anthropic(api_key=key, base_url=url, max_retries=0)


def fixture_stream(name: str, piece: int = 23) -> Reply:
    """A recorded-shape transcript, sent in small pieces split mid-event."""
    data = (FIXTURES / f"{name}.sse").read_bytes()
    return Reply.sse([data[i:i + piece] for i in range(0, len(data), piece)])


def completion(message: dict, finish="stop", usage=None) -> Reply:
    return Reply.json({"id": "chatcmpl-77", "object": "chat.completion", "created": 1, "model": "x",
                       "choices": [{"index": 0, "message": {"role": "assistant", **message},
                                    "finish_reason": finish}],
                       "usage": usage or {"prompt_tokens": 12, "completion_tokens": 3}})


@pytest.mark.smoke
def test_create_text(url, upstream, host):
    upstream.reply(completion({"content": "Bonjour"}, usage={
        "prompt_tokens": 40, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 30}}))
    m = client(url).messages.create(model=MODEL, max_tokens=100, system="Answer in French.",
                                    messages=[{"role": "user", "content": "Hello"}], extra_body={"temperature": 0.3})
    assert m.type == "message" and m.role == "assistant"
    assert m.model == MODEL
    assert m.id == "msg_77"
    assert [b.type for b in m.content] == ["text"] and m.content[0].text == "Bonjour"
    assert m.stop_reason == "end_turn" and m.stop_sequence is None
    assert (m.usage.input_tokens, m.usage.output_tokens, m.usage.cache_read_input_tokens) == (10, 3, 30)
    got = upstream.last()
    assert got.path == "/v1/acc/gw/compat/chat/completions"
    assert got.json() == {"model": "deepseek/deepseek-v4-pro", "max_tokens": 100, "temperature": 0.3,
                          "messages": [{"role": "system", "content": "Answer in French."},
                                       {"role": "user", "content": "Hello"}]}
    assert got.header("x-api-key") is None and got.header("anthropic-version") is None


@pytest.mark.smoke
def test_stream_text_final_message(url, upstream, host):
    upstream.reply(fixture_stream("plain_text"))
    with client(url).messages.stream(model=MODEL, max_tokens=50,
                                     messages=[{"role": "user", "content": "hi"}]) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "Hello, world!"
    assert [b.type for b in final.content] == ["text"]
    assert final.content[0].text == "Hello, world!"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (21, 9)
    sent = upstream.last().json()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_stream_parallel_tools_accumulate(url, upstream):
    upstream.reply(fixture_stream("parallel_tools_interleaved", piece=7))
    tools = [{"name": n, "description": n, "input_schema": {"type": "object"}}
             for n in ("get_weather", "get_time", "get_news")]
    with client(url).messages.stream(model=MODEL, max_tokens=50, tools=tools,
                                     messages=[{"role": "user", "content": "all three"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    uses = [(b.id, b.name, b.input) for b in final.content if b.type == "tool_use"]
    assert uses == [("call_a", "get_weather", {"city": "Rome"}), ("call_b", "get_time", {"tz": "Europe/Rome"}),
                    ("call_c", "get_news", {})]


def test_stream_thinking_becomes_a_thinking_block(url, upstream):
    upstream.reply(fixture_stream("reasoning"))
    with client(url).messages.stream(model="deepseek-reasoner#deepseek", max_tokens=50,
                                     messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "The user wants a greeting."
    assert final.content[1].text == "Hello!"
    assert final.usage.cache_read_input_tokens == 4


def test_tool_use_round_trip(url, upstream):
    tools = [{"name": "get_weather", "description": "Weather for a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    question = {"role": "user", "content": "Weather in Paris?"}
    upstream.reply(completion({"content": None, "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        finish="tool_calls"))
    first = client(url).messages.create(model=MODEL, max_tokens=200, tools=tools, messages=[question],
                                        tool_choice={"type": "any"})
    assert first.stop_reason == "tool_use"
    (use,) = [b for b in first.content if b.type == "tool_use"]
    assert (use.id, use.name, use.input) == ("call_9", "get_weather", {"city": "Paris"})
    sent = upstream.last().json()
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city", "parameters": tools[0]["input_schema"]}}]
    assert sent["tool_choice"] == "required"

    upstream.reply(completion({"content": "It is 18°C in Paris."}))
    second = client(url).messages.create(model=MODEL, max_tokens=200, tools=tools, messages=[
        question,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C, clear"},
                                     {"type": "text", "text": "Thanks, summarise."}]},
    ])
    assert second.content[0].text == "It is 18°C in Paris."
    messages = upstream.last().json()["messages"]
    assert messages[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}
    assert messages[2] == {"role": "tool", "tool_call_id": "call_9", "content": "18C, clear"}
    assert messages[3] == {"role": "user", "content": "Thanks, summarise."}


def test_image_request(url, upstream):
    png = base64.b64encode(b"\x89PNG fake").decode()
    client(url).messages.create(model="gpt-5.5#openai", max_tokens=20, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "text", "text": "What is this?"}]}])
    (user,) = [m for m in upstream.last().json()["messages"] if m["role"] == "user"]
    assert user["content"] == [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                               {"type": "text", "text": "What is this?"}]


def test_errors_are_typed_exceptions(url, upstream):
    upstream.reply(Reply.json({"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}}, 429,
                              headers=[("retry-after", "3")]))
    with pytest.raises(anthropic.RateLimitError) as err:
        client(url).messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert err.value.response.headers["retry-after"] == "3"
    assert err.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached"}}

    upstream.reply(Reply.json({"success": False, "errors": [{"code": 2001, "message": "provider down"}]}, 503))
    with pytest.raises(anthropic.InternalServerError):
        client(url).messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.AuthenticationError):
        client(url, key="wrong").messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError) as err:
        client(url).messages.create(model=MODEL, max_tokens=5, messages=[])
    assert "messages" in str(err.value)


def test_error_mid_stream_raises(url, upstream):
    upstream.reply(fixture_stream("error_mid_stream"))
    with pytest.raises(anthropic.APIStatusError) as err:
        with client(url).messages.stream(model=MODEL, max_tokens=5,
                                         messages=[{"role": "user", "content": "x"}]) as stream:
            stream.get_final_message()
    assert "overloaded" in str(err.value)


def test_translated_stream_is_not_buffered(url, upstream):
    import threading

    gate = threading.Event()
    first = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'
    rest = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    reply = Reply.sse([first, rest], hold=gate)
    upstream.reply(reply)
    try:
        with client(url).messages.stream(model=MODEL, max_tokens=5,
                                         messages=[{"role": "user", "content": "x"}]) as stream:
            texts = stream.text_stream
            assert next(texts) == "Hel"
            assert len(reply.sent_at) == 1, "the client got the first delta before the upstream sent the rest"
            gate.set()
            assert list(texts) == ["lo"]
            assert stream.get_final_message().stop_reason == "end_turn"
    finally:
        gate.set()


@pytest.mark.smoke
def test_count_tokens_estimated_for_a_translated_provider(url, upstream, host):
    c = client(url)
    raw = c.messages.with_raw_response.count_tokens(
        model=MODEL, system="Be brief.", messages=[{"role": "user", "content": "Hello " * 100}])
    assert raw.headers["x-apex-ai-proxy-token-count"] == "estimate"
    count = raw.parse()
    assert 140 < count.input_tokens < 200, count
    assert upstream.requests == [], "estimated by the proxy, nothing sent upstream"
    with pytest.raises(anthropic.BadRequestError):
        c.messages.count_tokens(model="nope", messages=[{"role": "user", "content": "x"}])


def test_count_tokens_native_for_anthropic(url, upstream, host):
    upstream.reply(Reply.json({"input_tokens": 42}))
    count = client(url).messages.count_tokens(
        model="claude-opus-4.7#anthropic", messages=[{"role": "user", "content": "hi"}])
    assert count.input_tokens == 42
    got = upstream.last()
    assert got.path == "/v1/acc/gw/anthropic/v1/messages/count_tokens"
    assert got.json()["model"] == "claude-opus-4.7"
    assert got.header("anthropic-version"), "the SDK's anthropic-version is forwarded"
    assert got.header("x-api-key") is None


@pytest.mark.smoke
def test_models_list(url, upstream, host):
    models = list(client(url).models.list())
    assert [m.id for m in models] == ["deepseek-v4-pro#deepseek", "gpt-5.5#openai", "claude-opus-4.7#anthropic"]
    assert all(m.type == "model" and m.display_name == m.id for m in models)
    first = client(url).models.list(limit=1)
    assert [m.id for m in first.data] == ["deepseek-v4-pro#deepseek"] and first.has_more
    paged = list(client(url).models.list(limit=2))  # the SDK follows has_more / last_id
    assert len(paged) == 3
    assert client(url).models.retrieve("gpt-5.5#openai").id == "gpt-5.5#openai"
    with pytest.raises(anthropic.NotFoundError):
        client(url).models.retrieve("nope#openai")
    with pytest.raises(anthropic.AuthenticationError):
        list(client(url, key="wrong").models.list())
    assert upstream.requests == []
