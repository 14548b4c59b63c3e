"""Fallbacks (docs/gateway.md, "Fallbacks") end to end: the fake gateway
refuses the first model in each way that moves on, and the next model's
answer reaches the official SDKs in their own dialect; what does not move on
does not; the answer, the log line and the report say what happened."""

import http.client
import json

import anthropic
import openai
import pytest

from client import call
from conftest import GATEWAY_TOKEN
from fake_upstream import Reply

AUTH = {"authorization": f"Bearer {GATEWAY_TOKEN}"}
FALLBACK = "x-apex-ai-proxy-fallback"
BASE = "/v1/acc/gw"
COMPLETION = {"id": "chatcmpl-9", "object": "chat.completion", "created": 1,
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "from the fallback"},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
CLOUDFLARE_ERROR = {"success": False, "errors": [{"code": 2005, "message": "upstream unavailable"}]}

REFUSALS = {
    "429": lambda: Reply.json({"error": {"message": "slow down"}}, 429, [("retry-after", "30")]),
    "503": lambda: Reply.json({"error": {"message": "overloaded"}}, 503),
    "529": lambda: Reply.json({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, 529),
    "cloudflare 502": lambda: Reply.json(CLOUDFLARE_ERROR, 502),
    "closed before the head": lambda: Reply(raw=b""),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_chat_moves_on(url, upstream, refusal):
    upstream.reply(REFUSALS[refusal]())
    upstream.reply(Reply.json(COMPLETION))
    body = {"model": "m1#groq", "messages": [{"role": "user", "content": "hi"}]}
    r = call(url, "POST", "/v1/chat/completions", {**AUTH, FALLBACK: "m2#deepseek"}, body)
    assert r.status == 200, r.body
    assert r.json()["choices"][0]["message"]["content"] == "from the fallback"
    assert (r.header("x-apex-ai-proxy-attempts"), r.header("x-apex-ai-proxy-model")) == ("2", "m2#deepseek")
    first, second = upstream.requests[-2:]
    assert (first.json()["model"], second.json()["model"]) == ("groq/m1", "deepseek/m2")


def test_a_bad_request_does_not_move_on(url, upstream):
    upstream.reply(Reply.json({"error": {"message": "bad field", "type": "invalid_request_error"}}, 400))
    body = {"model": "m1#groq", "messages": []}
    r = call(url, "POST", "/v1/chat/completions", {**AUTH, FALLBACK: "m2#deepseek"}, body)
    assert r.status == 400 and r.json()["error"]["message"] == "bad field"
    assert r.header("x-apex-ai-proxy-attempts") == "1"
    assert len(upstream.requests) == 1


def test_every_model_failing_gives_the_last_answer(url, upstream):
    upstream.reply(Reply.json({"error": {"message": "first"}}, 503), Reply.json({"error": {"message": "last"}}, 429))
    body = {"model": "m1#groq", "messages": []}
    r = call(url, "POST", "/v1/chat/completions", {**AUTH, FALLBACK: "m2#deepseek"}, body)
    assert (r.status, r.json()["error"]["message"]) == (429, "last")
    assert r.header("x-apex-ai-proxy-attempts") == "2"


def test_an_unknown_provider_in_the_chain_is_a_400(url, upstream):
    body = {"model": "m1#groq", "messages": []}
    r = call(url, "POST", "/v1/chat/completions", {**AUTH, FALLBACK: "m2#nope"}, body)
    assert r.status == 400 and "m2#nope" in r.json()["error"]["message"]
    assert upstream.requests == []


def test_a_silent_first_model_moves_on_at_its_deadline(proxies, host, upstream):
    slow = proxies.get(host, "slow")  # first byte within 1 s
    late = Reply.json({"error": {"message": "too late"}}, 200)
    late.head_delay = 3
    upstream.reply(late, Reply.json(COMPLETION))
    body = {"model": "m1#groq", "messages": []}
    r = call(slow.url, "POST", "/v1/chat/completions", {**AUTH, FALLBACK: "m2#deepseek"}, body, timeout=20)
    assert r.status == 200 and r.header("x-apex-ai-proxy-model") == "m2#deepseek", r.body


def test_messages_native_to_translated_through_the_sdk(url, upstream):
    """Claude on Anthropic answers 529; DeepSeek (translated) answers, streamed."""
    upstream.reply(REFUSALS["529"]())
    events = [b'data: {"id":"c1","choices":[{"delta":{"content":"from "}}]}\n\n',
              b'data: {"choices":[{"delta":{"content":"deepseek"},"finish_reason":"stop"}]}\n\n', b"data: [DONE]\n\n"]
    upstream.reply(Reply.sse(events))
    client = anthropic.Anthropic(api_key=GATEWAY_TOKEN, base_url=url, max_retries=0,
                                 default_headers={FALLBACK: "deepseek-v4-pro#deepseek"})
    with client.messages.stream(model="claude-opus-4.7#anthropic", max_tokens=100,
                                messages=[{"role": "user", "content": "hi"}]) as stream:
        message = stream.get_final_message()
    assert message.content[0].text == "from deepseek"
    first, second = upstream.requests[-2:]
    assert first.path == f"{BASE}/anthropic/v1/messages" and second.path == f"{BASE}/compat/chat/completions"
    assert second.json()["messages"] == [{"role": "user", "content": "hi"}]


def test_responses_translated_to_native_through_the_sdk(url, upstream):
    """DeepSeek (translated) answers 503; GPT on OpenAI's Responses API answers natively."""
    upstream.reply(REFUSALS["503"]())
    native = {"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5.5",
              "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                          "content": [{"type": "output_text", "text": "from openai", "annotations": []}]}]}
    upstream.reply(Reply.json(native))
    client = openai.OpenAI(api_key=GATEWAY_TOKEN, base_url=f"{url}/v1", max_retries=0,
                           default_headers={FALLBACK: "gpt-5.5#openai"})
    response = client.responses.create(model="deepseek-v4-pro#deepseek", input="hi")
    assert response.output_text == "from openai"
    first, second = upstream.requests[-2:]
    assert first.path == f"{BASE}/compat/chat/completions" and second.path == f"{BASE}/openai/responses"
    assert second.json()["model"] == "gpt-5.5" and second.json()["input"] == "hi"


def test_the_log_and_the_report_name_every_attempt(proxies, host, upstream, aepipe):
    from test_report import reports, wait_for_log
    proxy = proxies.get(host, "report")
    upstream.reply(REFUSALS["429"]())
    upstream.reply(Reply.json(COMPLETION))
    body = {"model": "m1#groq", "messages": []}
    r = call(proxy.url, "POST", "/v1/chat/completions", {**AUTH, FALLBACK: "m2#deepseek"}, body)
    assert r.status == 200
    wait_for_log(proxy, "attempts=m1#groq:429,m2#deepseek:200")
    _, (raw,) = reports(aepipe, r)
    assert [(a["model"], a["status"]) for a in raw["attempts"]] == [("m1#groq", 429), ("m2#deepseek", 200)]
    assert all(a["duration_ms"] >= 0 for a in raw["attempts"])
    assert json.dumps(raw).count(GATEWAY_TOKEN) == 0


def test_a_stream_that_breaks_does_not_move_on(url, upstream):
    """Once the answer started, a failure is the client's: a cut stream, one attempt."""
    events = [b'data: {"id":"c1","choices":[{"delta":{"content":"partial"}}]}\n\n']
    upstream.reply(Reply(200, [("content-type", "text/event-stream")],
                         raw=b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                         + b"%x\r\n" % len(events[0]) + events[0] + b"\r\n"))
    body = {"model": "m1#groq", "stream": True, "messages": []}
    try:
        got = call(url, "POST", "/v1/chat/completions", {**AUTH, FALLBACK: "m2#deepseek"}, body).body
        assert b"partial" in got  # workerd ends a failed stream normally (docs/hosts/cloudflare.md)
    except (http.client.IncompleteRead, http.client.RemoteDisconnected):
        pass  # the cut answer, as the client sees it (Spin may drop the connection before the head)
    assert len(upstream.requests) == 1, "never a second model once the answer started"


def test_responses_native_to_translated_streamed(url, upstream):
    """GPT on OpenAI answers 429; DeepSeek answers, translated to Responses events."""
    upstream.reply(REFUSALS["429"]())
    events = [b'data: {"id":"c1","choices":[{"delta":{"content":"from deepseek"}}]}\n\n',
              b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n', b"data: [DONE]\n\n"]
    upstream.reply(Reply.sse(events))
    client = openai.OpenAI(api_key=GATEWAY_TOKEN, base_url=f"{url}/v1", max_retries=0,
                           default_headers={FALLBACK: "deepseek-v4-pro#deepseek"})
    with client.responses.stream(model="gpt-5.5#openai", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == "from deepseek"
    first, second = upstream.requests[-2:]
    assert first.path == f"{BASE}/openai/responses" and second.path == f"{BASE}/compat/chat/completions"


def test_messages_translated_to_native(url, upstream):
    """DeepSeek answers 500; Claude on Anthropic answers natively, byte for byte."""
    upstream.reply(Reply.json({"error": {"message": "boom"}}, 500))
    native = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4.7",
              "content": [{"type": "text", "text": "from claude"}], "stop_reason": "end_turn",
              "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 2}}
    upstream.reply(Reply.json(native))
    client = anthropic.Anthropic(api_key=GATEWAY_TOKEN, base_url=url, max_retries=0,
                                 default_headers={FALLBACK: "claude-opus-4.7#anthropic"})
    message = client.messages.create(model="deepseek-v4-pro#deepseek", max_tokens=100,
                                     messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "from claude"
    second = upstream.requests[-1]
    assert second.path == f"{BASE}/anthropic/v1/messages" and second.json()["model"] == "claude-opus-4.7"
