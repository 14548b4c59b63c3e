"""The Gemini API on any provider (docs/translation.md, "Gemini"), as the
Gemini clients send it: the model in the path (`%23` or `@` before the
provider), the token as `x-goog-api-key` or `?key=`, `generateContent` whole
and `streamGenerateContent?alt=sse` as events. The official Gen AI SDKs and
Gemini CLI are not run here yet (issue 23 goes on)."""

import json

from client import call
from conftest import GATEWAY_TOKEN
from fake_upstream import Reply

BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 20}}
COMPLETION = {"id": "chatcmpl-7", "object": "chat.completion", "created": 1,
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


def test_generate_content_translated(url, upstream):
    upstream.reply(Reply.json(COMPLETION))
    r = call(url, "POST", "/v1beta/models/deepseek-v4-pro%23deepseek:generateContent",
             {"x-goog-api-key": GATEWAY_TOKEN}, BODY)
    assert r.status == 200, r.body
    answer = r.json()
    assert answer["candidates"][0]["content"] == {"role": "model", "parts": [{"text": "hello"}]}
    assert answer["candidates"][0]["finishReason"] == "STOP"
    assert answer["usageMetadata"]["totalTokenCount"] == 4
    sent = upstream.last()
    assert sent.path == "/v1/acc/gw/compat/chat/completions"
    assert sent.json()["model"] == "deepseek/deepseek-v4-pro" and sent.json()["max_tokens"] == 20
    assert sent.header("x-goog-api-key") is None and GATEWAY_TOKEN not in sent.target


def test_stream_generate_content_as_events(url, upstream):
    events = [b'data: {"id":"c1","choices":[{"delta":{"content":"hel"}}]}\n\n',
              b'data: {"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n', b"data: [DONE]\n\n"]
    upstream.reply(Reply.sse(events))
    r = call(url, "POST", f"/v1/models/deepseek-v4-pro@deepseek:streamGenerateContent?alt=sse&key={GATEWAY_TOKEN}",
             {}, BODY)
    assert r.status == 200, r.body
    assert r.header("content-type").startswith("text/event-stream")
    chunks = [json.loads(e[len("data: "):]) for e in r.body.decode().split("\r\n\r\n") if e]
    text = "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"])
    assert text == "hello" and chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert upstream.last().json()["stream"] is True


def test_errors_in_googles_shape(url, upstream):
    r = call(url, "POST", "/v1beta/models/m%23deepseek:generateContent", {"x-goog-api-key": "wrong"}, BODY)
    assert r.status == 401
    assert r.json()["error"]["status"] == "UNAUTHENTICATED"
    upstream.reply(Reply.json({"error": {"message": "slow down"}}, 429))
    r = call(url, "POST", "/v1beta/models/m%23deepseek:generateContent", {"x-goog-api-key": GATEWAY_TOKEN}, BODY)
    assert (r.status, r.json()["error"]["status"], r.json()["error"]["message"]) == (429, "RESOURCE_EXHAUSTED",
                                                                                      "slow down")
