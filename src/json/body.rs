//! A request body read as a JSON object, keeping its bytes so that rewriting
//! `model` changes only that value: key order, spacing, number spelling and every
//! other field stay byte-for-byte what the client sent.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::value::RawValue;

use super::{Json, Object};

/// Why a body could not be used as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not valid JSON (or not UTF-8).
    NotJson(String),
    /// Valid JSON, but not an object.
    NotObject,
}

impl BodyError {
    /// A message for the client.
    pub fn message(&self) -> String {
        match self {
            BodyError::NotJson(e) => format!("request body is not valid JSON: {e}"),
            BodyError::NotObject => "request body must be a JSON object".to_owned(),
        }
    }
}

/// The decoded `model` string and the byte range of its JSON literal.
type ModelSpan = (String, Range<usize>);

/// A JSON object body with the location of its top-level `model` string.
#[derive(Debug, Clone)]
pub struct JsonBody {
    bytes: Vec<u8>,
    model: Option<ModelSpan>,
    stream: bool,
}

impl JsonBody {
    /// Validates `bytes` as one JSON object. When a key repeats, the last one
    /// counts (as in `JSON.parse`). On failure the bytes come back unchanged.
    pub fn parse(bytes: Vec<u8>) -> Result<JsonBody, (BodyError, Vec<u8>)> {
        match Self::locate(&bytes) {
            Ok((model, stream)) => Ok(JsonBody { bytes, model, stream }),
            Err(e) => Err((e, bytes)),
        }
    }

    /// The decoded `model` with its span, and the `stream` flag.
    fn locate(bytes: &[u8]) -> Result<(Option<ModelSpan>, bool), BodyError> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        let fields: BTreeMap<Cow<'_, str>, &RawValue> = match serde_json::from_slice(bytes) {
            Ok(fields) => fields,
            Err(_) if first != Some(&b'{') => {
                return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                    Ok(_) => Err(BodyError::NotObject),
                    Err(e) => Err(BodyError::NotJson(e.to_string())),
                };
            }
            Err(e) => return Err(BodyError::NotJson(e.to_string())),
        };
        let base = bytes.as_ptr() as usize;
        let model = fields.get("model").and_then(|raw| {
            let text = raw.get();
            let value: String = serde_json::from_str(text).ok()?;
            let start = text.as_ptr() as usize - base;
            Some((value, start..start + text.len()))
        });
        let stream = fields.get("stream").is_some_and(|raw| raw.get() == "true");
        Ok((model, stream))
    }

    /// The top-level `model` when it is a string.
    pub fn model(&self) -> Option<&str> {
        self.model.as_ref().map(|(value, _)| value.as_str())
    }

    /// `true` when the body says `"stream": true`.
    pub fn stream(&self) -> bool {
        self.stream
    }

    /// The body as sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The body with its `model` string replaced by `model` and nothing else
    /// changed. A body without a string `model` is returned unchanged.
    pub fn with_model(&self, model: &str) -> Vec<u8> {
        let Some((_, span)) = &self.model else {
            return self.bytes.clone();
        };
        let literal = serde_json::Value::from(model).to_string();
        let mut out = Vec::with_capacity(self.bytes.len() + literal.len());
        out.extend_from_slice(&self.bytes[..span.start]);
        out.extend_from_slice(literal.as_bytes());
        out.extend_from_slice(&self.bytes[span.end..]);
        out
    }

    /// The body's top level, read lazily (it was checked to be one object).
    pub fn object(&self) -> Object<'_> {
        let text = std::str::from_utf8(&self.bytes).ok();
        text.and_then(|t| Json::parse(t).ok()).and_then(Json::object).unwrap_or_default()
    }

    /// The body as a `serde_json::Value`, for edits beyond `model`.
    pub fn to_value(&self) -> Result<serde_json::Value, BodyError> {
        serde_json::from_slice(&self.bytes).map_err(|e| BodyError::NotJson(e.to_string()))
    }

    /// The body as sent.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<JsonBody, BodyError> {
        JsonBody::parse(s.as_bytes().to_vec()).map_err(|(e, bytes)| {
            assert_eq!(bytes, s.as_bytes(), "bytes come back unchanged");
            e
        })
    }

    #[test]
    fn finds_model_and_stream() {
        let b = parse(r#"{"stream": true, "model":"gpt-5#openai","x":[1,{"model":"inner"}]}"#).unwrap();
        assert_eq!(b.model(), Some("gpt-5#openai"));
        assert!(b.stream());
    }

    #[test]
    fn rewrite_changes_only_the_model_literal() {
        let text = "{ \"temperature\" : 1.0e0,\n  \"model\": \"a\\u0062c\", \"z\": 1 }";
        let out = parse(text).unwrap().with_model("x\"y");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{ \"temperature\" : 1.0e0,\n  \"model\": \"x\\\"y\", \"z\": 1 }"
        );
    }

    #[test]
    fn escaped_model_is_decoded() {
        assert_eq!(parse(r#"{"model":"a\u0062c"}"#).unwrap().model(), Some("abc"));
    }

    #[test]
    fn last_duplicate_key_wins() {
        let b = parse(r#"{"model":"first","model":"second"}"#).unwrap();
        assert_eq!(b.model(), Some("second"));
        assert_eq!(b.with_model("third"), br#"{"model":"first","model":"third"}"#);
    }

    #[test]
    fn non_string_model_is_left_alone() {
        for text in [r#"{"model":42}"#, r#"{"model":null}"#, r#"{"model":{"a":1}}"#, r#"{}"#] {
            let b = parse(text).unwrap();
            assert_eq!(b.model(), None);
            assert_eq!(b.with_model("new"), text.as_bytes());
        }
    }

    #[test]
    fn non_objects_and_garbage_are_told_apart() {
        assert_eq!(parse(r#"["model"]"#).unwrap_err(), BodyError::NotObject);
        assert_eq!(parse("\"s\"").unwrap_err(), BodyError::NotObject);
        assert!(matches!(parse("{\"model\":").unwrap_err(), BodyError::NotJson(_)));
        assert!(matches!(parse("not json").unwrap_err(), BodyError::NotJson(_)));
        assert!(matches!(parse("").unwrap_err(), BodyError::NotJson(_)));
        assert!(matches!(parse("{} trailing").unwrap_err(), BodyError::NotJson(_)));
    }
}
