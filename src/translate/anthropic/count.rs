//! `POST /v1/messages/count_tokens` for providers that have no such endpoint:
//! an estimate, marked as one (the proxy cannot run another provider's
//! tokenizer). About four characters of text per token, as OpenAI and Anthropic
//! both state for English; a fixed cost per image and per message.

use crate::errors::ProxyError;
use crate::json::{Json, Object};

/// Tokens counted for one image (Anthropic's figure for a ~1.15 megapixel image).
const IMAGE_TOKENS: u64 = 1_600;
/// Tokens of framing counted per message (role and separators).
const MESSAGE_TOKENS: u64 = 4;
/// Characters of text per token.
const CHARS_PER_TOKEN: u64 = 4;

/// Estimates the input tokens of a Messages request (`system`, `messages`,
/// `tools`). A request without `messages` is a 400, as the real endpoint's.
pub fn estimate(request: &Object) -> Result<u64, ProxyError> {
    let messages = request
        .array("messages")
        .ok_or_else(|| ProxyError::BadRequest("messages: field required (an array of messages)".into()))?;
    let mut tally = Tally::default();
    tally.walk(request.get("system"));
    for message in messages {
        tally.tokens += MESSAGE_TOKENS;
        tally.walk(message.object().and_then(|m| m.get("content")));
    }
    for tool in request.array("tools").unwrap_or_default() {
        // A tool reaches the model as its name, description and schema text.
        tally.chars += tool.text().chars().count() as u64;
    }
    Ok((tally.tokens + tally.chars.div_ceil(CHARS_PER_TOKEN)).max(1))
}

#[derive(Default)]
struct Tally {
    chars: u64,
    tokens: u64,
}

impl Tally {
    /// Counts the text of a content value: strings, blocks, nested results.
    /// (The body was parsed with serde_json's depth limit, so this recursion
    /// is bounded.)
    fn walk(&mut self, value: Option<Json>) {
        let Some(value) = value else { return };
        if let Some(text) = value.as_str() {
            self.chars += text.chars().count() as u64;
        } else if let Some(items) = value.array() {
            items.into_iter().for_each(|item| self.walk(Some(item)));
        } else if let Some(block) = value.object() {
            match block.kind().as_deref() {
                Some("image") => self.tokens += IMAGE_TOKENS,
                Some("tool_use") => self.chars += block.get("input").map_or(0, |i| i.text().len() as u64),
                _ => {
                    for key in ["text", "thinking", "content", "data", "title", "source"] {
                        self.walk(block.get(key));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn estimate(request: &Value) -> Result<u64, ProxyError> {
        let text = request.to_string();
        super::estimate(&Json::parse(&text).unwrap().object().unwrap())
    }

    #[test]
    fn counts_text_images_and_tools() {
        let text = "a".repeat(400);
        let base = json!({"messages": [{"role": "user", "content": text}]});
        assert_eq!(estimate(&base).unwrap(), 100 + MESSAGE_TOKENS);
        let with_image = json!({"system": "abcd", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "abcd"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}
        ]}]});
        assert_eq!(estimate(&with_image).unwrap(), 2 + IMAGE_TOKENS + MESSAGE_TOKENS);
        let tools = json!({"messages": [], "tools": [{"name": "f", "input_schema": {"type": "object"}}]});
        assert!(estimate(&tools).unwrap() > 5);
    }

    #[test]
    fn needs_messages() {
        assert_eq!(estimate(&json!({"model": "m"})).unwrap_err().status().as_u16(), 400);
    }
}
