//! The upstream side every translated dialect shares: OpenAI chat completions.
//!
//! - [`request::ChatRequest`]: the request a dialect builds;
//! - [`completion::Completion`]: a whole answer, read once;
//! - [`stream::ChatStream`]: a streamed answer as [`stream::ChatEvent`]s.

pub mod completion;
pub mod request;
pub mod stream;

use crate::json::Object;

/// Token counts from an OpenAI `usage` object, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Prompt tokens served from the provider's cache (OpenAI
    /// `prompt_tokens_details.cached_tokens`, DeepSeek `prompt_cache_hit_tokens`).
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Completion tokens spent on reasoning (`completion_tokens_details.reasoning_tokens`).
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn read(usage: &Object) -> Usage {
        let detail = |object: &str, field: &str| usage.object(object).and_then(|o| o.u64(field));
        Usage {
            prompt_tokens: usage.u64("prompt_tokens").unwrap_or(0),
            cached_tokens: detail("prompt_tokens_details", "cached_tokens")
                .or_else(|| usage.u64("prompt_cache_hit_tokens"))
                .unwrap_or(0),
            completion_tokens: usage.u64("completion_tokens").unwrap_or(0),
            reasoning_tokens: detail("completion_tokens_details", "reasoning_tokens").unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Json;

    fn usage(text: &str) -> Usage {
        Usage::read(&Json::parse(text).unwrap().object().unwrap())
    }

    #[test]
    fn usage_with_cache() {
        let openai = r#"{"prompt_tokens": 100, "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 60}, "completion_tokens_details": {"reasoning_tokens": 3}}"#;
        assert_eq!(
            usage(openai),
            Usage { prompt_tokens: 100, cached_tokens: 60, completion_tokens: 7, reasoning_tokens: 3 }
        );
        let deepseek = r#"{"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 4}"#;
        assert_eq!(usage(deepseek).cached_tokens, 4);
        assert_eq!(usage("{}"), Usage::default());
    }
}
