//! `POST /v1/messages/count_tokens` for providers that have no such endpoint:
//! an estimate, marked as one (the proxy cannot run another provider's
//! tokenizer). About four characters of text per token, as OpenAI and Anthropic
//! both state for English; a fixed cost per image and per message.

use serde_json::Value;

use crate::errors::ProxyError;

/// Tokens counted for one image (Anthropic's figure for a ~1.15 megapixel image).
const IMAGE_TOKENS: u64 = 1_600;
/// Tokens of framing counted per message (role and separators).
const MESSAGE_TOKENS: u64 = 4;
/// Characters of text per token.
const CHARS_PER_TOKEN: u64 = 4;

/// Estimates the input tokens of a Messages request (`system`, `messages`,
/// `tools`). A request without `messages` is a 400, as the real endpoint's.
pub fn estimate(request: &Value) -> Result<u64, ProxyError> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ProxyError::BadRequest("messages: field required (an array of messages)".into()))?;
    let mut tally = Tally::default();
    tally.walk(request.get("system").unwrap_or(&Value::Null));
    for message in messages {
        tally.tokens += MESSAGE_TOKENS;
        tally.walk(message.get("content").unwrap_or(&Value::Null));
    }
    for tool in request.get("tools").and_then(Value::as_array).into_iter().flatten() {
        // A tool reaches the model as its name, description and schema text.
        tally.chars += tool.to_string().chars().count() as u64;
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
    fn walk(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.chars += s.chars().count() as u64,
            Value::Array(items) => items.iter().for_each(|item| self.walk(item)),
            Value::Object(block) => match block.get("type").and_then(Value::as_str) {
                Some("image") => self.tokens += IMAGE_TOKENS,
                Some("tool_use") => {
                    self.chars += block.get("input").map_or(0, |i| i.to_string().len() as u64)
                }
                _ => {
                    for key in ["text", "thinking", "content", "data", "title"] {
                        if let Some(inner) = block.get(key) {
                            self.walk(inner);
                        }
                    }
                    if let Some(source) = block.get("source") {
                        self.walk(source);
                    }
                }
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
