//! A chat answer as Gemini's `GenerateContentResponse`: whole, or as
//! server-sent events (`data: {…}` per chunk, no event names, no end marker),
//! as `streamGenerateContent?alt=sse` sends them. Text and reasoning (a part
//! with `thought: true`) go out as they arrive; a function call goes out
//! whole, when its arguments are complete, as Gemini's calls do.

use serde_json::{Value, json};

use super::{ERRORS, finish_reason};
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
    /// Calls whose arguments are still coming: (name, arguments so far).
    calls: Vec<Option<(String, String)>>,
}

impl GeminiAnswer {
    pub fn new(model: &str) -> GeminiAnswer {
        GeminiAnswer { model: model.to_owned(), id: String::new(), calls: Vec::new() }
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

    fn send(out: &mut Vec<u8>, value: &Value) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(value.to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    }

    /// The calls whose arguments are complete, as parts.
    fn calls_done(&mut self) -> Vec<Value> {
        self.calls.iter_mut().filter_map(Option::take).map(|(name, args)| call_part(&name, &args)).collect()
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
    fn whole(&self, c: &Completion) -> Value {
        let mut parts = Vec::new();
        if let Some(thought) = &c.reasoning {
            parts.push(json!({"text": thought, "thought": true}));
        }
        if let Some(text) = c.content.as_ref().or(c.refusal.as_ref()) {
            parts.push(json!({"text": text}));
        }
        parts.extend(c.tool_calls.iter().map(|call| call_part(&call.name, &call.arguments)));
        let mut answer = GeminiAnswer::new(&self.model);
        answer.id = super::super::id_from_upstream("gen", c.id.as_deref());
        answer.response(parts, Some(c.finish_reason.as_deref().unwrap_or("stop")), Some(c.usage))
    }

    fn start(&mut self, id: Option<&str>, _created: Option<u64>, _out: &mut Vec<u8>) {
        self.id = super::super::id_from_upstream("gen", id);
    }

    fn text(&mut self, kind: TextKind, text: &str, out: &mut Vec<u8>) {
        let part = match kind {
            TextKind::Reasoning => json!({"text": text, "thought": true}),
            TextKind::Answer => json!({"text": text}),
        };
        let mut parts = self.calls_done();
        parts.push(part);
        Self::send(out, &self.response(parts, None, None));
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
        Self::send(out, &last);
    }

    fn fail(&mut self, error: StreamError, out: &mut Vec<u8>) {
        let status = error.status.unwrap_or(http::StatusCode::BAD_GATEWAY);
        Self::send(out, &ERRORS.body(status, error.message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::stream::Translation;

    #[test]
    fn a_stream_as_server_sent_events() {
        let mut t = Translation::new(Box::new(GeminiAnswer::new("m@deepseek")));
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
}
