"""Streaming for real: the client must get the first SSE event while the upstream
still holds the second. A proxy that buffers fails here (no timing guesswork:
the upstream waits for the client's signal)."""

import threading

import pytest

from client import Stream
from conftest import GATEWAY_TOKEN
from fake_upstream import Reply

FIRST = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
SECOND = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n'
DONE = b"data: [DONE]\n\n"


def held_stream(upstream) -> tuple[Reply, threading.Event]:
    gate = threading.Event()
    reply = Reply.sse([FIRST, SECOND, DONE], hold=gate, hold_timeout=15)
    upstream.reply(reply)
    return reply, gate


def check_not_buffered(stream: Stream, reply: Reply, gate: threading.Event):
    assert stream.status == 200
    first_at = stream.read_until(b'"Hel"', timeout=10)
    assert len(reply.sent_at) == 1, "the upstream had already sent the second event"
    gate.set()
    body = stream.read_rest()
    assert body == FIRST + SECOND + DONE
    assert first_at < reply.sent_at[1]


@pytest.mark.smoke
def test_gateway_stream_is_not_buffered(url, upstream, host):
    reply, gate = held_stream(upstream)
    body = b'{"model":"gpt-5.5#openai","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    stream = Stream(url, "POST", "/v1/chat/completions",
                    {"authorization": f"Bearer {GATEWAY_TOKEN}", "content-type": "application/json"}, body)
    try:
        check_not_buffered(stream, reply, gate)
        assert stream.response.getheader("content-type") == "text/event-stream"
    finally:
        gate.set()


@pytest.mark.smoke
def test_passthrough_stream_is_not_buffered(url, upstream, passthrough_header, host):
    reply, gate = held_stream(upstream)
    stream = Stream(url, "POST", "/v1/chat/completions",
                    {"x-apex-ai-proxy-provider": passthrough_header, "authorization": "Bearer k"},
                    b'{"model":"x","stream":true}')
    try:
        check_not_buffered(stream, reply, gate)
    finally:
        gate.set()


def test_native_anthropic_stream_is_not_buffered(url, upstream):
    gate = threading.Event()
    events = [b'event: message_start\ndata: {"type":"message_start"}\n\n',
              b'event: content_block_delta\ndata: {"type":"content_block_delta"}\n\n',
              b'event: message_stop\ndata: {"type":"message_stop"}\n\n']
    reply = Reply.sse(events, hold=gate)
    upstream.reply(reply)
    stream = Stream(url, "POST", "/v1/messages", {"x-api-key": GATEWAY_TOKEN, "anthropic-version": "2023-06-01"},
                    b'{"model":"claude-x#anthropic","max_tokens":5,"stream":true,"messages":[]}')
    try:
        stream.read_until(b"message_start", timeout=10)
        assert len(reply.sent_at) == 1
        gate.set()
        assert stream.read_rest() == b"".join(events)
    finally:
        gate.set()
