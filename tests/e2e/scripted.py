"""A scripted model behind the fake gateway: answers OpenAI chat-completions
requests (streamed or not) from a script, so real agents can run a
tool-using conversation through the proxy's translators."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from fake_upstream import Recorded, Reply


@dataclass
class ToolCall:
    name: str
    arguments: dict


@dataclass
class Turn:
    """One model answer: optional reasoning (DeepSeek's `reasoning_content`),
    optional text, then tool calls."""
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    reasoning: str = ""


def completion_reply(req: Recorded, turn: Turn, call_prefix: str = "call", prompt_tokens: int = 100) -> Reply:
    """The answer `turn` as OpenAI chat format, streamed if the request
    streams. `call_prefix` names its tool calls and the completion: a provider
    gives each answer its own ids, and Claude Code takes answers with one id
    for parts of one message."""
    body = req.json()
    completion_id = f"chatcmpl-{call_prefix}"
    calls = [{"id": f"{call_prefix}_{i}", "type": "function",
              "function": {"name": c.name, "arguments": json.dumps(c.arguments)}} for i, c in enumerate(turn.calls)]
    finish = "tool_calls" if calls else "stop"
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 10, "total_tokens": prompt_tokens + 10}
    if not body.get("stream"):
        message = {"role": "assistant", "content": turn.text or None}
        if calls:
            message["tool_calls"] = calls
        return Reply.json({"id": completion_id, "object": "chat.completion", "created": 1,
                           "model": body.get("model"), "choices": [{"index": 0, "message": message,
                                                                    "finish_reason": finish}], "usage": usage})

    def chunk(delta=None, finish_reason=None, with_usage=False) -> bytes:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": 1, "model": body.get("model"),
                "choices": [] if with_usage else [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}]}
        if with_usage:
            data["usage"] = usage
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    chunks = [chunk({"role": "assistant", "content": ""})]
    if turn.reasoning:
        chunks.append(chunk({"reasoning_content": turn.reasoning}))
    for piece in [turn.text[i:i + 12] for i in range(0, len(turn.text), 12)]:
        chunks.append(chunk({"content": piece}))
    for i, call in enumerate(calls):
        args = call["function"]["arguments"]
        chunks.append(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                             "function": {"name": call["function"]["name"], "arguments": ""}}]}))
        for piece in [args[j:j + 16] for j in range(0, len(args), 16)]:
            chunks.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    chunks += [chunk(finish_reason=finish), chunk(with_usage=True), b"data: [DONE]\n\n"]
    return Reply.sse(chunks)


def deepseek_thinking_rule(answer):
    """The fake as DeepSeek's thinking mode: a conversation whose tool-call
    turn comes back without its `reasoning_content` is a 400."""
    def enforcing(req: Recorded) -> Reply:
        for message in req.json().get("messages", []):
            if message.get("role") == "assistant" and message.get("tool_calls") and not message.get("reasoning_content"):
                return Reply.json({"error": {"message": "The reasoning_content in the thinking mode must be passed "
                                             "back to the API.", "type": "invalid_request_error"}}, 400)
        return answer(req)
    return enforcing


def tool_results(req: Recorded) -> int:
    """How many tool results the conversation already holds."""
    return sum(1 for m in req.json().get("messages", []) if m.get("role") == "tool")


def conversation_roles(req: Recorded) -> list[str]:
    return [m["role"] for m in req.json()["messages"]]
