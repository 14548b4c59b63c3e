//! The provider table of SPEC §3: which Cloudflare AI Gateway URL serves a
//! provider, and what `model` the upstream body carries.

use std::fmt;

use crate::config::Config;
use crate::errors::ProxyError;
use crate::translate::quoted;

/// A provider reachable through Cloudflare AI Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    OpenAi,
    Anthropic,
    GoogleAiStudio,
    Groq,
    Mistral,
    Grok,
    DeepSeek,
    Cerebras,
    Cohere,
    PerplexityAi,
    OpenRouter,
    AzureOpenAi,
    WorkersAi,
    Compat,
}

impl Provider {
    /// Every provider, in the order error messages list them.
    pub const ALL: [Provider; 14] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::GoogleAiStudio,
        Provider::Groq,
        Provider::Mistral,
        Provider::Grok,
        Provider::DeepSeek,
        Provider::Cerebras,
        Provider::Cohere,
        Provider::PerplexityAi,
        Provider::OpenRouter,
        Provider::AzureOpenAi,
        Provider::WorkersAi,
        Provider::Compat,
    ];

    /// The name clients write after `#`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::GoogleAiStudio => "google-ai-studio",
            Provider::Groq => "groq",
            Provider::Mistral => "mistral",
            Provider::Grok => "grok",
            Provider::DeepSeek => "deepseek",
            Provider::Cerebras => "cerebras",
            Provider::Cohere => "cohere",
            Provider::PerplexityAi => "perplexity-ai",
            Provider::OpenRouter => "openrouter",
            Provider::AzureOpenAi => "azure-openai",
            Provider::WorkersAi => "workers-ai",
            Provider::Compat => "compat",
        }
    }

    /// Exact, case-sensitive lookup by name.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == name)
    }

    /// `true` for providers whose OpenAI-compatible chat API takes
    /// `reasoning_effort` (the Responses translator sends it only to these).
    pub fn takes_reasoning_effort(self) -> bool {
        matches!(
            self,
            Provider::OpenAi
                | Provider::AzureOpenAi
                | Provider::Grok
                | Provider::Groq
                | Provider::GoogleAiStudio
                | Provider::OpenRouter
                | Provider::Cerebras
                | Provider::PerplexityAi
        )
    }

    /// `openai, anthropic, …` for error messages.
    pub fn list() -> String {
        Provider::ALL.map(Provider::name).join(", ")
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed `<model>#<provider>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    pub model: String,
    pub provider: Provider,
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
        let provider = Provider::from_name(provider).ok_or_else(|| {
            ProxyError::BadRequest(format!(
                "unknown provider {} in model {}; {}",
                quoted(provider),
                quoted(value),
                usage()
            ))
        })?;
        Ok(ModelRef { model: model.to_owned(), provider })
    }
}

/// Where a chat-completions request for `model_ref` goes, and the body's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRoute {
    pub url: String,
    pub body_model: String,
}

/// `{GATEWAY_BASE_URL}/{ACCOUNT_ID}/{GATEWAY_ID}`, or a configuration error.
pub fn gateway_base(cfg: &Config) -> Result<String, ProxyError> {
    match (&cfg.account_id, &cfg.gateway_id) {
        (Some(account), Some(gateway)) => {
            let base = cfg
                .gateway_base_url
                .as_ref()
                .map_err(|problem| ProxyError::NotConfigured(problem.clone()))?;
            Ok(format!("{base}/{account}/{gateway}"))
        }
        _ => Err(ProxyError::NotConfigured(
            "gateway mode needs ACCOUNT_ID and GATEWAY_ID (your Cloudflare account id and AI Gateway id); \
             set both, or use passthrough with the X-APEX-AI-PROXY-PROVIDER header"
                .into(),
        )),
    }
}

/// The chat-completions URL and body model for a provider (SPEC §3 table).
pub fn chat_route(cfg: &Config, base: &str, model_ref: &ModelRef) -> Result<ChatRoute, ProxyError> {
    let ModelRef { model, provider } = model_ref;
    let route = |path: &str, body_model: String| ChatRoute { url: format!("{base}{path}"), body_model };
    Ok(match provider {
        Provider::OpenAi
        | Provider::Anthropic
        | Provider::GoogleAiStudio
        | Provider::Groq
        | Provider::Mistral
        | Provider::Grok
        | Provider::DeepSeek
        | Provider::Cerebras
        | Provider::Cohere => route("/compat/chat/completions", format!("{provider}/{model}")),
        Provider::Compat => route("/compat/chat/completions", model.clone()),
        Provider::PerplexityAi => route("/perplexity-ai/chat/completions", model.clone()),
        Provider::OpenRouter => route("/openrouter/v1/chat/completions", model.clone()),
        Provider::WorkersAi => route("/workers-ai/v1/chat/completions", model.clone()),
        Provider::AzureOpenAi => {
            let resource = cfg.azure_resource.as_deref().ok_or_else(|| {
                ProxyError::NotConfigured(
                    "#azure-openai needs AZURE_RESOURCE (your Azure OpenAI resource name)".into(),
                )
            })?;
            let path = format!(
                "/azure-openai/{}/{}/chat/completions?api-version={}",
                encode_segment(resource),
                encode_segment(model),
                encode_segment(&cfg.azure_api_version)
            );
            route(&path, model.clone())
        }
    })
}

/// The native Anthropic Messages URL.
pub fn anthropic_messages_url(base: &str) -> String {
    format!("{base}/anthropic/v1/messages")
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a value can
/// stand as one path segment or query value.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::from_lookup(|name| match name {
            "ACCOUNT_ID" => Some("acc".into()),
            "GATEWAY_ID" => Some("gw".into()),
            "AZURE_RESOURCE" => Some("my-res".into()),
            _ => None,
        })
    }

    #[test]
    fn every_provider_routes_as_the_table_says() {
        let c = cfg();
        let base = gateway_base(&c).unwrap();
        assert_eq!(base, "https://gateway.ai.cloudflare.com/v1/acc/gw");
        let b = |p: &str| format!("{base}{p}");
        let cases = [
            ("gpt-5.5#openai", b("/compat/chat/completions"), "openai/gpt-5.5"),
            ("claude-opus-4.7#anthropic", b("/compat/chat/completions"), "anthropic/claude-opus-4.7"),
            (
                "gemini-2.0-flash#google-ai-studio",
                b("/compat/chat/completions"),
                "google-ai-studio/gemini-2.0-flash",
            ),
            ("llama-3.3-70b#groq", b("/compat/chat/completions"), "groq/llama-3.3-70b"),
            ("mistral-large-latest#mistral", b("/compat/chat/completions"), "mistral/mistral-large-latest"),
            ("grok-4#grok", b("/compat/chat/completions"), "grok/grok-4"),
            ("deepseek-v4-pro#deepseek", b("/compat/chat/completions"), "deepseek/deepseek-v4-pro"),
            ("llama3.1-8b#cerebras", b("/compat/chat/completions"), "cerebras/llama3.1-8b"),
            ("command-a#cohere", b("/compat/chat/completions"), "cohere/command-a"),
            ("sonar#perplexity-ai", b("/perplexity-ai/chat/completions"), "sonar"),
            ("openai/gpt-5#openrouter", b("/openrouter/v1/chat/completions"), "openai/gpt-5"),
            (
                "my deploy#azure-openai",
                b("/azure-openai/my-res/my%20deploy/chat/completions?api-version=2025-04-01-preview"),
                "my deploy",
            ),
            (
                "@cf/meta/llama-3.1-8b#workers-ai",
                b("/workers-ai/v1/chat/completions"),
                "@cf/meta/llama-3.1-8b",
            ),
            ("google-vertex-ai/gemini-x#compat", b("/compat/chat/completions"), "google-vertex-ai/gemini-x"),
        ];
        assert_eq!(cases.len(), Provider::ALL.len());
        for (model, url, body_model) in cases {
            let route = chat_route(&c, &base, &ModelRef::parse(model).unwrap()).unwrap();
            assert_eq!(route, ChatRoute { url, body_model: body_model.into() }, "{model}");
        }
        assert_eq!(anthropic_messages_url(&base), b("/anthropic/v1/messages"));
    }

    #[test]
    fn model_refs() {
        let r = ModelRef::parse("a#b#openai");
        assert!(r.is_err(), "provider 'b#openai' is unknown");
        let r = ModelRef::parse("org/model:free#openrouter").unwrap();
        assert_eq!((r.model.as_str(), r.provider), ("org/model:free", Provider::OpenRouter));
        for bad in ["gpt-5", "#openai", " #openai", "gpt-5#", "gpt-5#OpenAI", "gpt-5#nope"] {
            let e = ModelRef::parse(bad).unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{bad}");
            assert!(e.message().contains("openai, anthropic, google-ai-studio"), "{bad}: lists providers");
        }
    }

    #[test]
    fn missing_settings_are_configuration_errors() {
        let bare = Config::from_lookup(|_| None);
        assert_eq!(gateway_base(&bare).unwrap_err().status().as_u16(), 421);
        let no_azure = Config::from_lookup(|n| (n != "AZURE_RESOURCE").then(|| "x".to_owned()));
        let azure = ModelRef::parse("d#azure-openai").unwrap();
        let e = chat_route(&no_azure, "b", &azure).unwrap_err();
        assert_eq!(e.status().as_u16(), 421);
        assert!(e.message().contains("AZURE_RESOURCE"));
    }
}
