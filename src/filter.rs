//! The filter every upstream body chunk passes through on its way to the client.
//!
//! Protocol: [`BodyFilter::push`] each chunk in order and send what it returns at
//! once; at the end send [`BodyFilter::finish`]; if the upstream failed mid-body,
//! call [`BodyFilter::abort`] instead: `Some(bytes)` means "send these and end the
//! body normally" (a translated stream's `error` event), `None` means "end the
//! body unfinished" so the client sees a truncated response.

use std::borrow::Cow;

use http::StatusCode;
use serde_json::Value;

use crate::errors::{Dialect, ProxyError};
use crate::translate::anthropic::{response as message, stream::AnthropicStream};

/// Largest upstream error body kept for re-shaping; the rest is dropped.
const ERROR_BODY_CAP: usize = 64 * 1024;
/// Largest non-streamed completion kept for translation.
const COMPLETION_CAP: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub enum BodyFilter {
    /// Every chunk goes out unchanged, as soon as it arrives.
    Pass,
    /// An error body, collected (up to a cap) and re-shaped at the end.
    ReshapeError { status: StatusCode, dialect: Dialect, buffer: Vec<u8> },
    /// An OpenAI SSE stream translated to Anthropic events as it arrives.
    AnthropicStream(Box<AnthropicStream>),
    /// A whole OpenAI completion, translated to an Anthropic message at the end.
    AnthropicMessage { model: String, buffer: Vec<u8> },
}

impl BodyFilter {
    /// The bytes to send now for `chunk`.
    pub fn push<'a>(&mut self, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            BodyFilter::Pass => Cow::Borrowed(chunk),
            BodyFilter::ReshapeError { buffer, .. } => collect(buffer, chunk, ERROR_BODY_CAP),
            BodyFilter::AnthropicMessage { buffer, .. } => collect(buffer, chunk, COMPLETION_CAP),
            BodyFilter::AnthropicStream(stream) => Cow::Owned(stream.push(chunk)),
        }
    }

    /// The bytes to send after the last chunk.
    pub fn finish(self) -> Vec<u8> {
        match self {
            BodyFilter::Pass => Vec::new(),
            BodyFilter::ReshapeError { status, dialect, buffer } => reshape_error(status, dialect, &buffer),
            BodyFilter::AnthropicStream(stream) => stream.finish(),
            BodyFilter::AnthropicMessage { model, buffer } => match message::to_anthropic(&buffer, &model) {
                Ok(message) => message.to_string().into_bytes(),
                Err(why) => ProxyError::BadGateway(why).body_bytes(Dialect::Anthropic),
            },
        }
    }

    /// The ending after an upstream failure mid-body (see the module docs).
    pub fn abort(self, why: &str) -> Option<Vec<u8>> {
        match self {
            BodyFilter::AnthropicStream(stream) => Some(stream.abort(why)),
            BodyFilter::Pass | BodyFilter::ReshapeError { .. } | BodyFilter::AnthropicMessage { .. } => None,
        }
    }

    /// `true` when the body goes out exactly as the upstream sent it.
    pub fn is_pass(&self) -> bool {
        matches!(self, BodyFilter::Pass)
    }
}

fn collect<'a>(buffer: &mut Vec<u8>, chunk: &[u8], cap: usize) -> Cow<'a, [u8]> {
    let room = cap.saturating_sub(buffer.len());
    buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
    Cow::Borrowed(&[])
}

/// An upstream error body in the client's dialect: unchanged when it already is,
/// otherwise its message (OpenAI, Anthropic, Cloudflare `errors[]`, plain text)
/// in a new body of the client's shape.
pub fn reshape_error(status: StatusCode, dialect: Dialect, body: &[u8]) -> Vec<u8> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(v) = &json {
        let has_message = v["error"]["message"].is_string();
        let native = match dialect {
            Dialect::OpenAi => has_message && v["type"] != "error",
            Dialect::Anthropic => has_message && v["type"] == "error",
        };
        if native {
            return body.to_vec();
        }
    }
    let message = json.as_ref().and_then(error_message).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        match text.is_empty() {
            true => format!("upstream answered {status}"),
            false => text.chars().take(2000).collect(),
        }
    });
    ProxyError::Upstream { status, message }.body_bytes(dialect)
}

/// The message of an error body in any of the shapes upstreams use.
fn error_message(v: &Value) -> Option<String> {
    if let Some(m) = v["error"]["message"].as_str().or(v["error"].as_str()) {
        return Some(m.to_owned());
    }
    if let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| match (e["code"].as_i64(), e["message"].as_str()) {
                (Some(code), Some(m)) => format!("{m} (code {code})"),
                (None, Some(m)) => m.to_owned(),
                _ => e.to_string(),
            })
            .collect();
        return Some(parts.join("; "));
    }
    v["message"].as_str().or(v["detail"].as_str()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reshape(status: u16, dialect: Dialect, body: &str) -> Value {
        let out = reshape_error(StatusCode::from_u16(status).unwrap(), dialect, body.as_bytes());
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn native_errors_pass_unchanged() {
        let openai = r#"{"error":{"message":"bad","type":"invalid_request_error","code":null}}"#;
        assert_eq!(
            reshape_error(StatusCode::BAD_REQUEST, Dialect::OpenAi, openai.as_bytes()),
            openai.as_bytes()
        );
        let anthropic = r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#;
        let code = StatusCode::from_u16(529).unwrap();
        assert_eq!(reshape_error(code, Dialect::Anthropic, anthropic.as_bytes()), anthropic.as_bytes());
    }

    #[test]
    fn foreign_shapes_are_translated() {
        assert_eq!(
            reshape(401, Dialect::Anthropic, r#"{"error":{"message":"bad key","type":"x"}}"#),
            json!({"type":"error","error":{"type":"authentication_error","message":"bad key"}})
        );
        assert_eq!(
            reshape(
                429,
                Dialect::OpenAi,
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}"#
            ),
            json!({"error":{"message":"slow","type":"rate_limit_error","code":429}})
        );
        let cloudflare = r#"{"success":false,"errors":[{"code":2009,"message":"Unauthorized"}],"result":{}}"#;
        assert_eq!(reshape(401, Dialect::OpenAi, cloudflare)["error"]["message"], "Unauthorized (code 2009)");
        assert_eq!(reshape(404, Dialect::Anthropic, "no such model\n")["error"]["message"], "no such model");
        assert_eq!(
            reshape(502, Dialect::OpenAi, "")["error"]["message"],
            "upstream answered 502 Bad Gateway"
        );
        assert_eq!(reshape(400, Dialect::OpenAi, r#"{"error":"plain"}"#)["error"]["message"], "plain");
        assert_eq!(
            reshape(422, Dialect::OpenAi, r#"{"detail":"validation"}"#)["error"]["message"],
            "validation"
        );
    }

    #[test]
    fn translated_message_filter() {
        let mut f = BodyFilter::AnthropicMessage { model: "m#groq".into(), buffer: Vec::new() };
        let body = json!({"id": "c", "choices": [{"finish_reason": "stop", "message": {"content": "hi"}}]});
        let text = body.to_string();
        let (a, b) = text.as_bytes().split_at(7);
        assert!(f.push(a).is_empty() && f.push(b).is_empty());
        let out: Value = serde_json::from_slice(&f.finish()).unwrap();
        assert_eq!(out["content"], json!([{"type": "text", "text": "hi"}]));
        assert_eq!(out["model"], "m#groq");
    }

    #[test]
    fn only_translated_streams_end_with_an_event_on_abort() {
        assert!(BodyFilter::Pass.abort("x").is_none());
        let stream = BodyFilter::AnthropicStream(Box::new(AnthropicStream::new("m")));
        let out = String::from_utf8(stream.abort("reset").unwrap()).unwrap();
        assert!(out.starts_with("event: error\n"), "{out}");
    }
}
