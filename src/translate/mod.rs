//! Client dialects over one OpenAI chat-completions upstream
//! (docs/architecture.md, "Dialects").
//!
//! A dialect implements [`Dialect`]: the client's request becomes a typed
//! [`ChatRequest`], and an [`Answer`] turns the chat answer back into the
//! client's, whole or streamed. What every dialect shares is written once:
//! the chat side ([`chat`]), the SSE decoder and framing ([`sse`]), and the
//! stream driver ([`stream::Translation`]: phases, caps, the overflow and
//! early-end errors). Adding a dialect is a folder here and one line in the
//! gateway's route table.

pub mod anthropic;
pub mod chat;
pub mod gemini;
pub mod responses;
pub mod sse;
pub mod stream;

use std::fmt;

use http::StatusCode;
use serde_json::Value;

use crate::errors::{ProxyError, Shape};
use crate::json::Object;
use crate::providers::Provider;
use chat::Usage;
use chat::completion::Completion;
use chat::request::ChatRequest;

/// Where a translated request goes.
#[derive(Debug, Clone)]
pub struct Target<'t> {
    /// The `model` of the upstream body.
    pub model: String,
    /// The model as the client sent it: answers carry it back.
    pub client_model: &'t str,
    pub provider: &'static Provider,
}

/// Where a dialect is its provider's own API: the gateway forwards it
/// natively there, with only the model changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Native {
    /// The provider's name (its row in the provider table holds its root).
    pub provider: &'static str,
    /// The generate endpoint below the provider's native root.
    pub generate: &'static str,
    /// The token-count endpoint, where the dialect has one.
    pub count: Option<&'static str>,
}

/// A client dialect served over a chat-completions upstream.
pub trait Dialect: fmt::Debug + Sync {
    /// The `endpoint_type` of reports and logs.
    fn name(&self) -> &'static str;

    /// How the dialect writes errors.
    fn errors(&self) -> Shape;

    /// The provider whose own API this is.
    fn native(&self) -> Native;

    /// An estimate of a request's input tokens, for providers that cannot
    /// count (marked as an estimate in the answer).
    fn estimate_tokens(&self, request: &Object) -> Result<u64, ProxyError>;

    /// The model when the dialect carries it in the path (Gemini's
    /// `models/{model}:generateContent`); `None`: the body's `model`.
    fn model_in_path(&self, _path: &str) -> Option<String> {
        None
    }

    /// The native endpoint below the provider's root for a request to
    /// `path` (`count`: the token count) with `model`: the `Native` paths,
    /// unless the dialect carries the model in its path.
    fn native_path(&self, _path: &str, _query: Option<&str>, _model: &str, count: bool) -> String {
        let native = self.native();
        if count { native.count.unwrap_or_default().to_owned() } else { native.generate.to_owned() }
    }

    /// The answer to a token count estimated here (`x-apex-ai-proxy-token-count: estimate`).
    fn count_answer(&self, tokens: u64) -> serde_json::Value {
        serde_json::json!({"input_tokens": tokens})
    }

    /// The client's request as a chat request for `target` (the provider's
    /// quirks not yet applied), and the answer the chat response goes through.
    /// Invalid input is a `400` naming the field.
    fn to_chat<'a>(
        &self,
        request: &Object<'a>,
        target: &Target,
    ) -> Result<(ChatRequest<'a>, Box<dyn Answer>), ProxyError>;
}

/// What kind of text a stream delta carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    Reasoning,
    Answer,
}

/// How a stream ended normally.
#[derive(Debug, Clone, Copy)]
pub struct StreamEnd<'a> {
    /// The chat `finish_reason`, if the upstream sent one.
    pub finish_reason: Option<&'a str>,
    pub usage: Usage,
}

/// Why a stream ended with an error.
#[derive(Debug, Clone, Copy)]
pub struct StreamError<'a> {
    /// The status an upstream error event carried.
    pub status: Option<StatusCode>,
    pub message: &'a str,
    /// The usage reported before the failure.
    pub usage: Usage,
}

/// The way back for one translated request: a whole completion, or the
/// events of a streamed one in the order [`stream::Translation`] calls them.
/// Event methods append to `out`; each dialect tracks what it has started.
pub trait Answer: fmt::Debug + Send {
    /// A whole completion as the client's answer.
    fn whole(&self, completion: &Completion) -> Value;

    /// The `content-type` of the streamed answer.
    fn stream_type(&self) -> &'static str {
        "text/event-stream"
    }

    /// The upstream's first chunk: its completion id and creation time.
    fn start(&mut self, id: Option<&str>, created: Option<u64>, out: &mut Vec<u8>);
    fn text(&mut self, kind: TextKind, text: &str, out: &mut Vec<u8>);
    /// A tool call begins; `slot` numbers the calls of the stream from 0.
    fn tool_start(&mut self, slot: usize, id: Option<&str>, name: &str, out: &mut Vec<u8>);
    fn tool_args(&mut self, slot: usize, fragment: &str, out: &mut Vec<u8>);
    /// The answer is complete; nothing follows.
    fn complete(&mut self, end: StreamEnd, out: &mut Vec<u8>);
    /// The answer failed; nothing follows.
    fn fail(&mut self, error: StreamError, out: &mut Vec<u8>);
}

/// A `400` for input a dialect cannot take.
pub fn bad(message: impl Into<String>) -> ProxyError {
    ProxyError::BadRequest(message.into())
}

/// The most characters of an upstream id the proxy's ids carry: every item
/// id and every event of a Responses stream repeats it, so a long one would
/// multiply the output. A longer id keeps its start and a hash of the rest.
const UPSTREAM_ID_MAX: usize = 48;

/// `<prefix>_<id>` from the upstream's completion id (so the same upstream
/// answer always gets the same id), or a unique one when it sent none.
pub fn id_from_upstream(prefix: &str, upstream_id: Option<&str>) -> String {
    let id: String = upstream_id
        .unwrap_or_default()
        .trim_start_matches("chatcmpl-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if id.is_empty() {
        return format!("{prefix}_{}", crate::ids::unique_id());
    }
    if id.len() <= UPSTREAM_ID_MAX {
        return format!("{prefix}_{id}");
    }
    // FNV-1a: stable across runs and hosts, unlike std's RandomState.
    let hash =
        id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{prefix}_{}{hash:016x}", &id[..UPSTREAM_ID_MAX - 16])
}
