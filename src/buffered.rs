//! Upstream answers the proxy must read whole before it can say anything: error
//! bodies re-shaped into the client's dialect, and non-streamed completions
//! translated for an Anthropic client. Nothing goes to the client until the
//! body has been judged, so a completion that cannot be translated is a `502`,
//! never a `200` with an error inside.
//!
//! Protocol: [`Buffered::push`] each chunk while it returns `true` (`false`:
//! stop reading, enough is known); then [`Buffered::finish`], or
//! [`Buffered::fail`] when the upstream broke off mid-body. Both give the
//! complete answer.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use serde_json::Value;

use crate::errors::{Dialect, ProxyError};
use crate::filter::BROKE_OFF;
use crate::response::{Reply, error_reply};
use crate::translate::anthropic::response as anthropic_response;
use crate::translate::responses::{ResponsesContext, response as responses_response};

/// Largest upstream error body kept for re-shaping; the rest is not read.
const ERROR_BODY_CAP: usize = 64 * 1024;
/// Largest non-streamed completion translated (real ones are a few hundred KiB
/// at most); a bigger one is a `502`.
pub const COMPLETION_CAP: usize = 16 * 1024 * 1024;

/// What the whole body becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Whole {
    /// An upstream error, re-shaped into the client's dialect.
    Error,
    /// An OpenAI completion, translated into an Anthropic message; `model` is
    /// the model as the client sent it.
    AnthropicMessage { model: String },
    /// An OpenAI completion, translated into a Responses `response` object.
    Response(Box<ResponsesContext>),
}

/// An upstream answer being read whole.
#[derive(Debug)]
pub struct Buffered {
    status: StatusCode,
    /// The response headers to send (already filtered, CORS set).
    headers: HeaderMap,
    dialect: Dialect,
    whole: Whole,
    body: Vec<u8>,
    over_cap: bool,
}

impl Buffered {
    pub fn new(status: StatusCode, headers: HeaderMap, dialect: Dialect, whole: Whole) -> Self {
        Buffered { status, headers, dialect, whole, body: Vec::new(), over_cap: false }
    }

    /// How many bytes of the body the core reads; past them it answers without.
    pub fn cap(&self) -> usize {
        match self.whole {
            Whole::Error => ERROR_BODY_CAP,
            Whole::AnthropicMessage { .. } | Whole::Response(_) => COMPLETION_CAP,
        }
    }

    /// Keeps a chunk; `false` once the cap is reached (read no more).
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.cap().saturating_sub(self.body.len());
        if chunk.len() > room {
            self.over_cap = true;
        }
        self.body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        !self.over_cap
    }

    /// The answer for the whole body.
    pub fn finish(self) -> Reply {
        match &self.whole {
            // A cut error body still carries its message.
            Whole::Error => {
                let body = reshape_error(self.status, self.dialect, &self.body);
                self.reply(self.status, body)
            }
            Whole::AnthropicMessage { .. } | Whole::Response(_) if self.over_cap => error_reply(
                &ProxyError::BadGateway(format!(
                    "the upstream completion is larger than {COMPLETION_CAP} bytes; ask for a streamed answer"
                )),
                self.dialect,
            ),
            Whole::AnthropicMessage { model } => {
                self.translated(anthropic_response::to_anthropic(&self.body, model))
            }
            Whole::Response(context) => self.translated(responses_response::to_response(&self.body, context)),
        }
    }

    /// A translated completion, or a 502 saying why it could not be.
    fn translated(&self, result: Result<Value, String>) -> Reply {
        match result {
            Ok(value) => self.reply(self.status, value.to_string().into_bytes()),
            Err(why) => error_reply(
                &ProxyError::BadGateway(format!("the upstream completion could not be translated: {why}")),
                self.dialect,
            ),
        }
    }

    /// The answer when the upstream broke off before the whole body arrived.
    pub fn fail(self) -> Reply {
        error_reply(&ProxyError::BadGateway(BROKE_OFF.into()), self.dialect)
    }

    fn reply(&self, status: StatusCode, body: Vec<u8>) -> Reply {
        let mut headers = self.headers.clone();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut reply = Response::new(body);
        *reply.status_mut() = status;
        *reply.headers_mut() = headers;
        reply
    }
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

    fn buffered(whole: Whole) -> Buffered {
        Buffered::new(StatusCode::OK, HeaderMap::new(), Dialect::Anthropic, whole)
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
    fn a_translated_completion_is_judged_before_any_head() {
        let mut good = buffered(Whole::AnthropicMessage { model: "m#groq".into() });
        let body = json!({"id": "c", "choices": [{"finish_reason": "stop", "message": {"content": "hi"}}]});
        let text = body.to_string();
        let (a, b) = text.as_bytes().split_at(7);
        assert!(good.push(a) && good.push(b));
        let reply = good.finish();
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()[header::CONTENT_LENGTH], reply.body().len().to_string().as_str());
        let out: Value = serde_json::from_slice(reply.body()).unwrap();
        assert_eq!(
            (out["content"].clone(), out["model"].clone()),
            (json!([{"type": "text", "text": "hi"}]), json!("m#groq"))
        );

        let nested = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        for bad in ["", "not json", "{\"choices\":[]}", nested.as_str()] {
            let mut b = buffered(Whole::AnthropicMessage { model: "m".into() });
            b.push(bad.as_bytes());
            let reply = b.finish();
            assert_eq!(reply.status(), 502, "{}", &bad[..bad.len().min(20)]);
            assert_eq!(serde_json::from_slice::<Value>(reply.body()).unwrap()["type"], "error");
        }
    }

    #[test]
    fn caps_and_failures() {
        let mut big = buffered(Whole::AnthropicMessage { model: "m".into() });
        assert!(big.push(&vec![b' '; COMPLETION_CAP]));
        assert!(!big.push(b"x"), "stop reading past the cap");
        assert_eq!(big.finish().status(), 502);
        let mut error =
            Buffered::new(StatusCode::TOO_MANY_REQUESTS, HeaderMap::new(), Dialect::OpenAi, Whole::Error);
        assert!(!error.push(&vec![b'a'; ERROR_BODY_CAP + 1]));
        assert_eq!(error.finish().status(), 429);
        let broke = buffered(Whole::Error).fail();
        assert_eq!(broke.status(), 502);
        assert!(String::from_utf8_lossy(broke.body()).contains(BROKE_OFF));
    }
}
