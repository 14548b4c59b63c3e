//! The providers gateway mode reaches through Cloudflare AI Gateway: one row
//! each, saying where its chat-completions route is, what `model` the upstream
//! body carries, its native API (if the proxy speaks it) and its quirks.
//! Adding a provider is one row here and one row in the test table below
//! (docs/contributing.md, "Add a provider").

use std::fmt;

use crate::errors::ProxyError;
use crate::json::quoted;

/// Where a provider's OpenAI-compatible chat completions are served, below
/// `{GATEWAY_BASE_URL}/{ACCOUNT_ID}/{GATEWAY_ID}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatPath {
    /// `/compat/chat/completions`, the body's model `<provider>/<model>`.
    CompatPrefixed,
    /// `/compat/chat/completions`, the model as written (`compat`: the client
    /// names the AI Gateway provider itself, `google-vertex-ai/gemini-x`).
    Compat,
    /// This path, the model as written.
    Own(&'static str),
    /// `/azure-openai/{AZURE_RESOURCE}/{model}/chat/completions?api-version=…`.
    Azure,
}

/// What a provider's chat API takes and rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// Takes `stream_options.include_usage` (Mistral rejects it).
    pub include_usage: bool,
    /// Takes `reasoning_effort`.
    pub reasoning_effort: bool,
    /// Wants an assistant turn's own reasoning back as `reasoning_content`
    /// (DeepSeek's thinking mode answers 400 to a tool-call turn without it).
    pub reasoning_back: bool,
}

/// One provider.
#[derive(Debug, PartialEq, Eq)]
pub struct Provider {
    /// The name clients write after `#`.
    pub name: &'static str,
    pub chat: ChatPath,
    /// The AI Gateway path of the provider's own API, where a client dialect
    /// speaks it natively (Anthropic Messages, OpenAI Responses).
    pub native: Option<&'static str>,
    /// The client's headers of that API, sent on the native route.
    pub native_headers: &'static [&'static str],
    pub quirks: Quirks,
}

/// Anthropic's version headers: the native Messages route takes them.
const ANTHROPIC_HEADERS: &[&str] = &["anthropic-version", "anthropic-beta"];

const PLAIN: Quirks = Quirks { include_usage: true, reasoning_effort: false, reasoning_back: false };
const REASONING: Quirks = Quirks { include_usage: true, reasoning_effort: true, reasoning_back: false };

/// A provider whose chat route is `chat`, with no native API of its own here.
const fn row(name: &'static str, chat: ChatPath, quirks: Quirks) -> Provider {
    Provider { name, chat, native: None, native_headers: &[], quirks }
}

/// Every provider, in the order error messages list them.
pub static PROVIDERS: [Provider; 14] = [
    Provider { native: Some("/openai"), ..row("openai", ChatPath::CompatPrefixed, REASONING) },
    Provider {
        native: Some("/anthropic/v1"),
        native_headers: ANTHROPIC_HEADERS,
        ..row("anthropic", ChatPath::CompatPrefixed, PLAIN)
    },
    Provider {
        native: Some("/google-ai-studio"),
        ..row("google-ai-studio", ChatPath::CompatPrefixed, REASONING)
    },
    row("groq", ChatPath::CompatPrefixed, REASONING),
    row("mistral", ChatPath::CompatPrefixed, Quirks { include_usage: false, ..PLAIN }),
    row("grok", ChatPath::CompatPrefixed, REASONING),
    row("deepseek", ChatPath::CompatPrefixed, Quirks { reasoning_back: true, ..PLAIN }),
    row("cerebras", ChatPath::CompatPrefixed, REASONING),
    row("cohere", ChatPath::CompatPrefixed, PLAIN),
    row("perplexity-ai", ChatPath::Own("/perplexity-ai/chat/completions"), REASONING),
    row("openrouter", ChatPath::Own("/openrouter/v1/chat/completions"), REASONING),
    row("azure-openai", ChatPath::Azure, REASONING),
    row("workers-ai", ChatPath::Own("/workers-ai/v1/chat/completions"), PLAIN),
    row("compat", ChatPath::Compat, PLAIN),
];

impl Provider {
    /// Exact, case-sensitive lookup by name.
    pub fn named(name: &str) -> Option<&'static Provider> {
        PROVIDERS.iter().find(|p| p.name == name)
    }

    /// `openai, anthropic, …` for error messages.
    pub fn list() -> String {
        PROVIDERS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
    }

    /// The upstream body's `model` for `model`.
    pub fn body_model(&self, model: &str) -> String {
        match self.chat {
            ChatPath::CompatPrefixed => format!("{}/{model}", self.name),
            ChatPath::Compat | ChatPath::Own(_) | ChatPath::Azure => model.to_owned(),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A parsed `<model>#<provider>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub model: String,
    pub provider: &'static Provider,
}

impl ModelRef {
    /// Splits at the first `#`. No `#`, an empty model or an unknown provider is
    /// a 400 that lists the supported providers.
    pub fn parse(value: &str) -> Result<ModelRef, ProxyError> {
        let usage = || {
            format!(
                "model must be written <model>#<provider>, e.g. gpt-5.5#openai; supported providers: {}",
                Provider::list()
            )
        };
        let Some((model, provider)) = value.split_once('#') else {
            return Err(ProxyError::BadRequest(format!(
                "model {} names no provider; {}",
                quoted(value),
                usage()
            )));
        };
        if model.trim().is_empty() {
            return Err(ProxyError::BadRequest(format!("model {} is empty; {}", quoted(value), usage())));
        }
        let provider = Provider::named(provider).ok_or_else(|| {
            ProxyError::BadRequest(format!(
                "unknown provider {} in model {}; {}",
                quoted(provider),
                quoted(value),
                usage()
            ))
        })?;
        Ok(ModelRef { model: model.to_owned(), provider })
    }

    /// `model#provider`, as a client writes it.
    pub fn written(&self) -> String {
        format!("{}#{}", self.model, self.provider.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per provider: a model as a client writes it, the chat path
    /// below the gateway base, the body's model.
    const ROUTES: [(&str, &str, &str); 14] = [
        ("gpt-5.5#openai", "/compat/chat/completions", "openai/gpt-5.5"),
        ("claude-opus-4.7#anthropic", "/compat/chat/completions", "anthropic/claude-opus-4.7"),
        (
            "gemini-2.0-flash#google-ai-studio",
            "/compat/chat/completions",
            "google-ai-studio/gemini-2.0-flash",
        ),
        ("llama-3.3-70b#groq", "/compat/chat/completions", "groq/llama-3.3-70b"),
        ("mistral-large-latest#mistral", "/compat/chat/completions", "mistral/mistral-large-latest"),
        ("grok-4#grok", "/compat/chat/completions", "grok/grok-4"),
        ("deepseek-v4-pro#deepseek", "/compat/chat/completions", "deepseek/deepseek-v4-pro"),
        ("llama3.1-8b#cerebras", "/compat/chat/completions", "cerebras/llama3.1-8b"),
        ("command-a#cohere", "/compat/chat/completions", "cohere/command-a"),
        ("sonar#perplexity-ai", "/perplexity-ai/chat/completions", "sonar"),
        ("openai/gpt-5#openrouter", "/openrouter/v1/chat/completions", "openai/gpt-5"),
        ("my deploy#azure-openai", "azure", "my deploy"),
        ("@cf/meta/llama-3.1-8b#workers-ai", "/workers-ai/v1/chat/completions", "@cf/meta/llama-3.1-8b"),
        ("google-vertex-ai/gemini-x#compat", "/compat/chat/completions", "google-vertex-ai/gemini-x"),
    ];

    #[test]
    fn every_provider_has_its_test_row() {
        for ((model, path, body_model), provider) in ROUTES.iter().zip(&PROVIDERS) {
            let r = ModelRef::parse(model).unwrap();
            assert_eq!(r.provider, provider, "{model}: rows in the table's order");
            let shown = match r.provider.chat {
                ChatPath::CompatPrefixed | ChatPath::Compat => "/compat/chat/completions",
                ChatPath::Own(own) => own,
                ChatPath::Azure => "azure",
            };
            assert_eq!(shown, *path, "{model}");
            assert_eq!(r.provider.body_model(&r.model), *body_model, "{model}");
        }
        let mistral = Provider::named("mistral").unwrap();
        assert!(!mistral.quirks.include_usage, "Mistral rejects stream_options.include_usage");
        assert!(Provider::named("deepseek").is_some_and(|p| !p.quirks.reasoning_effort));
    }

    #[test]
    fn model_refs() {
        assert!(ModelRef::parse("a#b#openai").is_err(), "provider 'b#openai' is unknown");
        let r = ModelRef::parse("org/model:free#openrouter").unwrap();
        assert_eq!((r.model.as_str(), r.provider.name), ("org/model:free", "openrouter"));
        assert_eq!(r.written(), "org/model:free#openrouter");
        for bad in ["gpt-5", "#openai", " #openai", "gpt-5#", "gpt-5#OpenAI", "gpt-5#nope"] {
            let e = ModelRef::parse(bad).unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{bad}");
            assert!(e.message().contains("openai, anthropic, google-ai-studio"), "{bad}: lists providers");
        }
    }
}
