//! A chat answer as Gemini's `GenerateContentResponse`: whole, or streamed
//! as server-sent events (`data: {…}` per chunk, no event names, no end
//! marker) as `streamGenerateContent?alt=sse` sends them, or as one JSON
//! array written as it grows (without `alt=sse`). Text and reasoning (a part
//! with `thought: true`) go out as they arrive; a function call goes out
//! whole, when its arguments are complete, as Gemini's calls do.

use serde_json::{Value, json};

use super::signature::{MAX_SIGNED, sign};
use super::{ERRORS, Framing, finish_reason};
use crate::errors::ErrorShape;
use crate::translate::anthropic::tool_input;
use crate::translate::chat::Usage;
use crate::translate::chat::completion::Completion;
use crate::translate::{Answer, StreamEnd, StreamError, TextKind};

/// One Gemini answer, as it goes.
#[derive(Debug)]
pub struct GeminiAnswer {
    model: String,
    id: String,
    framing: Framing,
    /// Responses written so far (the array's commas).
    sent: usize,
    /// Calls whose arguments are still coming: (name, arguments so far).
    calls: Vec<Option<(String, String)>>,
    /// The turn's reasoning, for the first call's `thoughtSignature`, when
    /// the provider wants it back (`None`: it does not, or it was signed or
    /// over [`MAX_SIGNED`]).
    reasoning: Option<String>,
}

impl GeminiAnswer {
    pub fn new(model: &str, framing: Framing) -> GeminiAnswer {
        GeminiAnswer {
            model: model.to_owned(),
            id: String::new(),
            framing,
            sent: 0,
            calls: Vec::new(),
            reasoning: None,
        }
    }

    /// Signs the turn's first call with its reasoning (signature.rs).
    pub fn signing_reasoning(mut self) -> GeminiAnswer {
        self.reasoning = Some(String::new());
        self
    }

    fn response(&self, parts: Vec<Value>, finish: Option<&str>, usage: Option<Usage>) -> Value {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(reason) = finish {
            candidate["finishReason"] = json!(finish_reason(reason));
        }
        let mut response =
            json!({"candidates": [candidate], "modelVersion": self.model, "responseId": self.id});
        if let Some(usage) = usage {
            response["usageMetadata"] = usage_json(usage);
        }
        response
    }

    /// One response, framed; `last`: the array closes after it.
    fn send(&mut self, out: &mut Vec<u8>, value: &Value, last: bool) {
        match self.framing {
            Framing::Events => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(value.to_string().as_bytes());
                out.extend_from_slice(b"\r\n\r\n");
            }
            Framing::Array => {
                out.extend_from_slice(if self.sent == 0 { b"[" } else { b",\r\n" });
                out.extend_from_slice(value.to_string().as_bytes());
                if last {
                    out.push(b']');
                }
            }
        }
        self.sent += 1;
    }

    /// The calls whose arguments are complete, as parts; the first of the
    /// turn signed with its reasoning.
    fn calls_done(&mut self) -> Vec<Value> {
        let mut parts: Vec<Value> = self
            .calls
            .iter_mut()
            .filter_map(Option::take)
            .map(|(name, args)| call_part(&name, &args))
            .collect();
        if let Some(first) = parts.first_mut() {
            signed(first, self.reasoning.take().as_deref());
        }
        parts
    }
}

/// `part` with the `thoughtSignature` for `reasoning`, if there is any.
fn signed(part: &mut Value, reasoning: Option<&str>) {
    if let Some(reasoning) = reasoning.filter(|r| !r.is_empty()) {
        part["thoughtSignature"] = sign(reasoning).into();
    }
}

fn call_part(name: &str, arguments: &str) -> Value {
    json!({"functionCall": {"name": name, "args": tool_input(arguments)}})
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": usage.completion_tokens,
        "totalTokenCount": usage.prompt_tokens + usage.completion_tokens,
        "cachedContentTokenCount": usage.cached_tokens,
        "thoughtsTokenCount": usage.reasoning_tokens,
    })
}

impl Answer for GeminiAnswer {
    fn stream_type(&self) -> &'static str {
        match self.framing {
            Framing::Events => "text/event-stream",
            Framing::Array => "application/json",
        }
    }

    fn whole(&self, c: &Completion) -> Value {
        let mut parts = Vec::new();
        if let Some(thought) = &c.reasoning {
            parts.push(json!({"text": thought, "thought": true}));
        }
        if let Some(text) = c.content.as_ref().or(c.refusal.as_ref()) {
            parts.push(json!({"text": text}));
        }
        let first_call = parts.len();
        parts.extend(c.tool_calls.iter().map(|call| call_part(&call.name, &call.arguments)));
        if let Some(first) = parts.get_mut(first_call).filter(|_| self.reasoning.is_some()) {
            signed(first, c.reasoning.as_deref().filter(|r| r.len() <= MAX_SIGNED));
        }
        let mut answer = GeminiAnswer::new(&self.model, self.framing);
        answer.id = super::super::id_from_upstream("gen", c.id.as_deref());
        answer.response(parts, Some(c.finish_reason.as_deref().unwrap_or("stop")), Some(c.usage))
    }

    fn start(&mut self, id: Option<&str>, _created: Option<u64>, _out: &mut Vec<u8>) {
        self.id = super::super::id_from_upstream("gen", id);
    }

    fn text(&mut self, kind: TextKind, text: &str, out: &mut Vec<u8>) {
        if let (TextKind::Reasoning, Some(reasoning)) = (kind, &mut self.reasoning) {
            match reasoning.len() + text.len() > MAX_SIGNED {
                true => self.reasoning = None,
                false => reasoning.push_str(text),
            }
        }
        let part = match kind {
            TextKind::Reasoning => json!({"text": text, "thought": true}),
            TextKind::Answer => json!({"text": text}),
        };
        let mut parts = self.calls_done();
        parts.push(part);
        let response = self.response(parts, None, None);
        self.send(out, &response, false);
    }

    fn tool_start(&mut self, slot: usize, _id: Option<&str>, name: &str, _out: &mut Vec<u8>) {
        if self.calls.len() <= slot {
            self.calls.resize(slot + 1, None);
        }
        self.calls[slot] = Some((name.to_owned(), String::new()));
    }

    fn tool_args(&mut self, slot: usize, fragment: &str, _out: &mut Vec<u8>) {
        if let Some(Some((_, args))) = self.calls.get_mut(slot) {
            args.push_str(fragment);
        }
    }

    fn complete(&mut self, end: StreamEnd, out: &mut Vec<u8>) {
        let parts = self.calls_done();
        let last = self.response(parts, Some(end.finish_reason.unwrap_or("stop")), Some(end.usage));
        self.send(out, &last, true);
    }

    fn fail(&mut self, error: StreamError, out: &mut Vec<u8>) {
        let status = error.status.unwrap_or(http::StatusCode::BAD_GATEWAY);
        self.send(out, &ERRORS.body(status, error.message), true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::stream::Translation;

    #[test]
    fn a_stream_as_server_sent_events() {
        let mut t = Translation::new(Box::new(GeminiAnswer::new("m@deepseek", Framing::Events)));
        let mut out = t.push(b"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n");
        out.extend(t.push(b"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"));
        out.extend(t.push(b"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n"));
        out.extend(t.push(b"data: [DONE]\n\n"));
        let text = String::from_utf8(out).unwrap();
        let events: Vec<Value> = text
            .split("\r\n\r\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(&e[6..]).unwrap())
            .collect();
        assert_eq!(events.len(), 2, "{text}");
        assert_eq!(events[0]["candidates"][0]["content"]["parts"][0]["text"], "Hi");
        let last = &events[1]["candidates"][0];
        assert_eq!(last["content"]["parts"][0]["functionCall"], json!({"name": "f", "args": {"a": 1}}));
        assert_eq!(last["finishReason"], "STOP");
        assert_eq!(events[1]["usageMetadata"]["totalTokenCount"], 5);
    }

    #[test]
    fn without_alt_sse_one_json_array() {
        let mut t = Translation::new(Box::new(GeminiAnswer::new("m", Framing::Array)));
        let mut out = t.push(b"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n");
        out.extend(
            t.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"!\"},\"finish_reason\":\"stop\"}]}\n\n"),
        );
        out.extend(t.finish());
        let all: Vec<Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2]["candidates"][0]["finishReason"], "STOP");
        let mut cut = Translation::new(Box::new(GeminiAnswer::new("m", Framing::Array)));
        let mut out = cut.push(b"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n");
        out.extend(cut.abort("broke"));
        let all: Vec<Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(all[1]["error"]["message"], "broke", "a failure closes the array with Google's error");
    }
}
