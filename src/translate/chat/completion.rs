//! A whole chat completion, read once into what every dialect's answer needs.
//! Lenient the way clients are: a field of an unexpected type is absent, not
//! an error; only a body that is not a completion at all is refused.

use std::borrow::Cow;

use super::Usage;
use crate::json::{Json, Object};

/// What a non-streamed completion said.
#[derive(Debug, Default)]
pub struct Completion<'a> {
    pub id: Option<Cow<'a, str>>,
    pub created: Option<u64>,
    /// `reasoning_content` (DeepSeek and most) or `reasoning`.
    pub reasoning: Option<Cow<'a, str>>,
    pub content: Option<Cow<'a, str>>,
    pub refusal: Option<Cow<'a, str>>,
    pub tool_calls: Vec<CompletedCall<'a>>,
    pub finish_reason: Option<Cow<'a, str>>,
    pub usage: Usage,
}

/// A tool call of a completion.
#[derive(Debug)]
pub struct CompletedCall<'a> {
    pub id: Option<Cow<'a, str>>,
    pub name: Cow<'a, str>,
    /// JSON text, as the model wrote it.
    pub arguments: Cow<'a, str>,
}

impl<'a> Completion<'a> {
    /// Reads a completion body; `Err` in words for a `502`.
    pub fn parse(body: &'a [u8]) -> Result<Completion<'a>, String> {
        let text = std::str::from_utf8(body).map_err(|e| format!("upstream sent invalid JSON: {e}"))?;
        let json = Json::parse(text).map_err(|e| format!("upstream sent invalid JSON: {e}"))?;
        let top = json.object().unwrap_or_default();
        let choices = top.array("choices").unwrap_or_default();
        let choice =
            choices.first().ok_or("upstream completion has no choices")?.object().unwrap_or_default();
        let message = choice.object("message").unwrap_or_default();
        Ok(Completion {
            id: top.str("id"),
            created: top.u64("created"),
            reasoning: reasoning(&message),
            content: message.str("content").filter(|t| !t.is_empty()),
            refusal: message.str("refusal").filter(|t| !t.is_empty()),
            tool_calls: message.array("tool_calls").unwrap_or_default().iter().map(called).collect(),
            finish_reason: choice.str("finish_reason"),
            usage: top.object("usage").map(|u| Usage::read(&u)).unwrap_or_default(),
        })
    }
}

/// The reasoning text of a message or delta, when not empty.
pub fn reasoning<'a>(message: &Object<'a>) -> Option<Cow<'a, str>> {
    message.str("reasoning_content").or_else(|| message.str("reasoning")).filter(|t| !t.is_empty())
}

fn called<'a>(call: &Json<'a>) -> CompletedCall<'a> {
    let call = call.object().unwrap_or_default();
    let function = call.object("function").unwrap_or_default();
    CompletedCall {
        id: call.str("id").filter(|id| !id.is_empty()),
        name: function.str("name").unwrap_or_default(),
        arguments: function.str("arguments").unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_answers_need() {
        let body = br#"{"id":"chatcmpl-9","created":7,"choices":[{"finish_reason":"tool_calls","message":{
            "content":"Hi","reasoning_content":"think","tool_calls":[
              {"id":"c1","function":{"name":"f","arguments":"{\"a\":1}"}},{"function":{"name":"g"}}]}}],
            "usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        let c = Completion::parse(body).unwrap();
        assert_eq!((c.id.as_deref(), c.created), (Some("chatcmpl-9"), Some(7)));
        assert_eq!((c.content.as_deref(), c.reasoning.as_deref()), (Some("Hi"), Some("think")));
        assert_eq!(c.tool_calls.len(), 2);
        assert_eq!((c.tool_calls[1].id.as_deref(), c.tool_calls[1].arguments.as_ref()), (None, ""));
        assert_eq!((c.usage.prompt_tokens, c.usage.completion_tokens), (3, 2));
        let odd = Completion::parse(br#"{"created":"x","choices":[{"message":{"content":[1]}}]}"#).unwrap();
        assert_eq!((odd.created, odd.content), (None, None), "wrong types are absent");
        for bad in [&b"<html>"[..], b"{\"choices\":[]}", b"[]", b"\xff"] {
            assert!(Completion::parse(bad).is_err());
        }
        let nested = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert!(Completion::parse(nested.as_bytes()).is_err(), "deep nesting is refused, not a crash");
    }
}
