"""The official OpenAI Python SDK's Responses API through gateway mode: translated
to chat completions for a non-OpenAI provider (the fake gateway answers in chat
format), and native for `#openai`."""

import json

import openai
import pytest
from pydantic import BaseModel

from conftest import GATEWAY_TOKEN
from fake_upstream import Reply
from scripted import ToolCall, Turn, completion_reply

MODEL = "deepseek-v4-pro#deepseek"
CHAT = "/v1/acc/gw/compat/chat/completions"


def client(url):
    return openai.OpenAI(api_key=GATEWAY_TOKEN, base_url=f"{url}/v1", max_retries=0)


def chunk(delta=None, finish=None, usage=None) -> bytes:
    data = {"id": "chatcmpl-r1", "object": "chat.completion.chunk", "created": 1700000001, "model": "x",
            "choices": [] if usage else [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}
    if usage:
        data["usage"] = usage
    return b"data: " + json.dumps(data).encode() + b"\n\n"


@pytest.mark.smoke
def test_create_translated(url, upstream, host):
    upstream.reply(Reply.json({
        "id": "chatcmpl-r0", "object": "chat.completion", "created": 1700000000, "model": "deepseek/x",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "Bonjour", "reasoning_content": "French it is"}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}}))
    r = client(url).responses.create(model=MODEL, instructions="Answer in French.", input="Hello",
                                     max_output_tokens=50, metadata={"team": "a"})
    assert r.id == "resp_r0" and r.object == "response" and r.status == "completed"
    assert r.model == MODEL and r.created_at == 1700000000
    assert r.output_text == "Bonjour"
    assert [o.type for o in r.output] == ["reasoning", "message"]
    assert r.usage.input_tokens == 12 and r.usage.output_tokens == 3 and r.usage.total_tokens == 15
    assert r.usage.input_tokens_details.cached_tokens == 4
    assert r.metadata == {"team": "a"}
    sent = upstream.last()
    assert sent.path == CHAT
    assert sent.json() == {"model": "deepseek/deepseek-v4-pro", "max_tokens": 50, "messages": [
        {"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hello"}]}


@pytest.mark.smoke
def test_stream_translated(url, upstream, host):
    upstream.reply(Reply.sse([
        chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}), chunk({"content": "lo"}),
        chunk(finish="stop"), chunk(usage={"prompt_tokens": 5, "completion_tokens": 2}), b"data: [DONE]\n\n"]))
    with client(url).responses.stream(model=MODEL, input="Say hello") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_text == "Hello" and final.status == "completed"
    assert final.usage.output_tokens == 2
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds.count("response.output_text.delta") == 2 and kinds[-1] == "response.completed"
    assert upstream.last().json()["stream_options"] == {"include_usage": True}


def test_function_tool_round_trip(url, upstream, host):
    tools = [{"type": "function", "name": "get_weather", "description": "Weather by city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    upstream.default = lambda req: completion_reply(
        req, Turn(calls=[ToolCall("get_weather", {"city": "Paris"})]), call_prefix="call_w")
    first = client(url).responses.create(model=MODEL, input="Weather in Paris?", tools=tools)
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and json.loads(calls[0].arguments) == {"city": "Paris"}
    upstream.default = lambda req: completion_reply(req, Turn(text="It is 18C in Paris."))
    second = client(url).responses.create(model=MODEL, tools=tools, input=[
        {"role": "user", "content": "Weather in Paris?"},
        *[o.model_dump(exclude_none=True) for o in first.output],
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18C"}])
    assert second.output_text == "It is 18C in Paris."
    messages = upstream.last().json()["messages"]
    assert messages[-2]["role"] == "assistant"
    assert messages[-2]["tool_calls"][0]["id"] == calls[0].call_id
    assert messages[-2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert messages[-1] == {"role": "tool", "tool_call_id": calls[0].call_id, "content": "18C"}
    assert upstream.last().json()["tools"][0]["function"]["name"] == "get_weather"


def test_custom_tool_streamed(url, upstream, host):
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hello \"world\"\n*** End Patch"
    upstream.default = lambda req: completion_reply(req, Turn(calls=[ToolCall("apply_patch", {"input": patch})]))
    with client(url).responses.stream(model=MODEL, input="Add a.txt", tools=[
            {"type": "custom", "name": "apply_patch", "description": "Edit files"}]) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.custom_tool_call_input.delta")
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "custom_tool_call" and call.name == "apply_patch" and call.input == patch
    assert deltas == patch


class Answer(BaseModel):
    city: str
    temperature: int


def test_structured_output(url, upstream, host):
    upstream.reply(Reply.json({"id": "c", "object": "chat.completion", "created": 1, "model": "x", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                                                          "content": '{"city": "Paris", "temperature": 18}'}}]}))
    parsed = client(url).responses.parse(model=MODEL, input="Weather?", text_format=Answer)
    assert parsed.output_parsed == Answer(city="Paris", temperature=18)
    format_ = upstream.last().json()["response_format"]
    assert format_["type"] == "json_schema" and format_["json_schema"]["name"] == "Answer"
    assert format_["json_schema"]["schema"]["properties"]["city"] == {"title": "City", "type": "string"}


def test_errors_are_typed_exceptions(url, upstream, host):
    upstream.reply(Reply.json({"error": {"message": "slow down", "type": "rate_limit"}}, status=429))
    with pytest.raises(openai.RateLimitError) as caught:
        client(url).responses.create(model=MODEL, input="x")
    assert caught.value.body["message"] == "slow down"
    with pytest.raises(openai.BadRequestError) as caught:
        client(url).responses.create(model=MODEL, input="x", previous_response_id="resp_1")
    assert "previous_response_id" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        client(url).responses.create(model=MODEL, input="x", tools=[{"type": "web_search"}],
                                     tool_choice={"type": "web_search"})


def test_error_mid_stream_fails_the_response(url, upstream, host):
    upstream.reply(Reply.sse([chunk({"content": "Par"}), b'data: {"error": {"message": "overloaded"}}\n\n']))
    with client(url).responses.stream(model=MODEL, input="x") as stream:
        events = list(stream)
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.message == "overloaded"
    assert any(e.type == "error" for e in events)


@pytest.mark.smoke
def test_native_for_openai(url, upstream, host):
    native = {"id": "resp_native", "object": "response", "created_at": 1, "status": "completed", "model": "gpt-5.5",
              "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                          "content": [{"type": "output_text", "text": "native", "annotations": []}]}],
              "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
    upstream.reply(Reply.json(native))
    r = client(url).responses.create(model="gpt-5.5#openai", input="hi", store=True,
                                     tools=[{"type": "web_search"}], previous_response_id="resp_0")
    assert r.id == "resp_native" and r.output_text == "native"
    sent = upstream.last()
    assert sent.path == "/v1/acc/gw/openai/responses"
    body = sent.json()
    assert body["model"] == "gpt-5.5" and body["previous_response_id"] == "resp_0"
    assert body["tools"] == [{"type": "web_search"}], "everything but the model passes untouched"
