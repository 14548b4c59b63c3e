//! The Gemini API (`generateContent`, `streamGenerateContent`) over a chat
//! upstream (docs/translation.md, "Gemini"): what Gemini CLI and the Google
//! Gen AI SDKs send, for every provider. The model travels in the path
//! (`models/{model}:generateContent`), streaming is the endpoint's, not the
//! body's.
//!
//! - [`request::to_chat`]: the request;
//! - [`answer::GeminiAnswer`]: the answer, whole or as server-sent events;
//! - [`ERRORS`]: Google's error shape.

pub mod answer;
pub mod request;
mod signature;

use http::StatusCode;
use serde_json::{Value, json};

use super::chat::request::ChatRequest;
use super::{Answer, Dialect, Native, Target};
use crate::errors::{ErrorShape, ProxyError, Shape};
use crate::json::{Json, Object};

/// What a model name keeps unencoded in a path segment: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The Gemini dialect, one static per endpoint: how `:streamGenerateContent`
/// answers (`None`: whole).
#[derive(Debug)]
pub struct Gemini {
    pub stream: Option<Framing>,
}

/// How a streamed Gemini answer is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Server-sent events (`?alt=sse`): `data: {…}` per response.
    Events,
    /// Without `alt=sse`, as Google answers it: one JSON array of responses,
    /// written as they come.
    Array,
}

pub static GENERATE: Gemini = Gemini { stream: None };
/// `:countTokens`: native on Google AI Studio, estimated on the others.
pub static COUNT: Gemini = Gemini { stream: None };
pub static STREAM: Gemini = Gemini { stream: Some(Framing::Events) };
pub static STREAM_ARRAY: Gemini = Gemini { stream: Some(Framing::Array) };

impl Dialect for Gemini {
    fn name(&self) -> &'static str {
        "generate_content"
    }

    fn errors(&self) -> Shape {
        &ERRORS
    }

    fn native(&self) -> Native {
        // The paths below the root come from the client's own (`native_path`).
        Native { provider: "google-ai-studio", generate: "", count: Some("") }
    }

    /// `/{version}/models/{model}:{method}`, the client's version and method
    /// kept, and `?alt=sse` when the client asked for it (never its `key`).
    fn native_path(&self, path: &str, query: Option<&str>, model: &str, _count: bool) -> String {
        let (before, after) = path.rsplit_once("/models/").unwrap_or(("", path));
        let version = before.rsplit('/').next().filter(|v| !v.is_empty()).unwrap_or("v1beta");
        let method = after.rsplit_once(':').map_or("generateContent", |(_, method)| method);
        let sse = query.is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"));
        let model = percent_encoding::utf8_percent_encode(model, SEGMENT);
        format!("/{version}/models/{model}:{method}{}", if sse { "?alt=sse" } else { "" })
    }

    fn count_answer(&self, tokens: u64) -> Value {
        json!({"totalTokens": tokens})
    }

    fn estimate_tokens(&self, request: &Object) -> Result<u64, ProxyError> {
        let text = request.get("contents").map_or(0, |c| c.text().len() as u64);
        Ok(text / 4 + 1)
    }

    fn model_in_path(&self, path: &str) -> Option<String> {
        model_in_path(path)
    }

    fn to_chat<'a>(
        &self,
        request: &Object<'a>,
        target: &Target,
    ) -> Result<(ChatRequest<'a>, Box<dyn Answer>), ProxyError> {
        let mut chat = request::to_chat(request, target)?;
        if self.stream.is_some() {
            chat.streaming();
        }
        let framing = self.stream.unwrap_or(Framing::Events);
        let mut answer = answer::GeminiAnswer::new(target.client_model, framing);
        if target.provider.quirks.reasoning_back {
            answer = answer.signing_reasoning();
        }
        Ok((chat, Box::new(answer)))
    }
}

/// The model a Gemini path names: `…/models/{model}:method`, percent-decoded
/// (`deepseek-v4-pro%23deepseek` is `deepseek-v4-pro#deepseek`), and with
/// `deepseek-v4-pro@deepseek`, the spelling the SDKs send unchanged, read as
/// `model#provider` when what follows the last `@` is a known provider.
pub fn model_in_path(path: &str) -> Option<String> {
    let (_, rest) = path.rsplit_once("/models/")?;
    let model = rest.split_once(':').map_or(rest, |(model, _)| model);
    let model = percent_encoding::percent_decode_str(model).decode_utf8().ok()?.into_owned();
    if model.contains('#') {
        return Some(model);
    }
    match model.rsplit_once('@') {
        Some((name, provider)) if crate::providers::Provider::named(provider).is_some() => {
            Some(format!("{name}#{provider}"))
        }
        _ => Some(model),
    }
}

/// Whether the request comes from a Gemini client (its API key or client
/// header): the models list answers in Gemini's shape.
pub fn is_client(headers: &http::HeaderMap) -> bool {
    headers.contains_key("x-goog-api-key") || headers.contains_key("x-goog-api-client")
}

/// A `model#provider` as Gemini clients write it in a path: `model@provider`.
pub fn path_spelling(model: &str) -> String {
    model.replacen('#', "@", 1)
}

/// Google's errors: `{"error":{"code","message","status"}}`.
#[derive(Debug)]
pub struct GoogleErrors;

pub static ERRORS: GoogleErrors = GoogleErrors;

impl ErrorShape for GoogleErrors {
    fn body(&self, status: StatusCode, message: &str) -> Value {
        json!({"error": {"code": status.as_u16(), "message": message, "status": status_name(status)}})
    }

    fn is_own(&self, body: Json) -> bool {
        let Some(error) = body.object().and_then(|o| o.object("error")) else { return false };
        error.get("message").is_some_and(Json::is_string) && error.get("status").is_some_and(Json::is_string)
    }
}

/// Google's canonical status name for an HTTP status.
fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        400..=499 => "FAILED_PRECONDITION",
        _ => "UNKNOWN",
    }
}

/// Chat `finish_reason` → Gemini `finishReason`.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "length" => "MAX_TOKENS",
        "content_filter" => "SAFETY",
        _ => "STOP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_in_the_path_in_each_spelling() {
        let path = |p: &str| model_in_path(p);
        assert_eq!(
            path("/v1beta/models/deepseek-v4-pro%23deepseek:generateContent").as_deref(),
            Some("deepseek-v4-pro#deepseek")
        );
        assert_eq!(
            path("/v1/models/deepseek-v4-pro@deepseek:streamGenerateContent").as_deref(),
            Some("deepseek-v4-pro#deepseek")
        );
        assert_eq!(path("/v1beta/models/gemini-2.5-pro:generateContent").as_deref(), Some("gemini-2.5-pro"));
        assert_eq!(
            path("/v1beta/models/name@v2:generateContent").as_deref(),
            Some("name@v2"),
            "not a provider"
        );
        assert_eq!(path("/v1beta/generateContent"), None);
    }

    #[test]
    fn errors_in_googles_shape() {
        let body = ERRORS.body(StatusCode::TOO_MANY_REQUESTS, "slow down");
        assert_eq!(
            body,
            json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
        );
    }
}
