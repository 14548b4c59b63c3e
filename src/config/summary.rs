//! What a configuration amounts to, in words: whether gateway mode can serve
//! (and every reason it cannot, at once), and the startup summary of what is
//! on. Ids are shown, secrets only as "set".

use super::{Config, DEFAULT_GATEWAY_BASE_URL, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUTS, LogSettings};

impl Config {
    /// Every setting gateway mode lacks or cannot use, in words; empty when
    /// it is ready.
    pub fn gateway_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.gateway_token.is_none() {
            problems.push(
                "GATEWAY_TOKEN is not set (the token clients present; it is also sent to Cloudflare AI Gateway)"
                    .to_owned(),
            );
        }
        let ids = [
            ("ACCOUNT_ID", &self.account_id, "your Cloudflare account id"),
            ("GATEWAY_ID", &self.gateway_id, "your AI Gateway id"),
        ];
        for (name, value, what) in ids {
            match value.as_deref().map(id_problem) {
                None => problems.push(format!("{name} is not set ({what})")),
                Some(Some(problem)) => problems.push(format!("{name} {problem}: set it to {what}")),
                Some(None) => {}
            }
        }
        if let Err(problem) = &self.gateway_base_url {
            problems.push(problem.clone());
        }
        problems
    }

    /// Whether each request is reported to aepipe: both settings are set.
    pub fn reporting(&self) -> bool {
        self.aepipe_base_url.is_some() && self.aepipe_token.is_some()
    }

    /// The startup summary, one line per subject: what serves, what is
    /// reported, what is logged, and every setting that differs from its
    /// default or could not be used. Never a secret.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let gateway = self.gateway_problems();
        lines.push(match gateway.is_empty() {
            true => {
                let base = self.gateway_base_url.as_deref().unwrap_or(DEFAULT_GATEWAY_BASE_URL);
                let account = self.account_id.as_deref().unwrap_or_default();
                let gateway = self.gateway_id.as_deref().unwrap_or_default();
                let base =
                    if base == DEFAULT_GATEWAY_BASE_URL { String::new() } else { format!(" via {base}") };
                format!("gateway mode: on (account {account}, gateway {gateway}{base}; GATEWAY_TOKEN set)")
            }
            false => format!("gateway mode: off: {}", gateway.join("; ")),
        });
        if !self.gateway_models.is_empty() {
            lines.push(format!("model list: {} models (GATEWAY_MODELS)", self.gateway_models.len()));
        }
        let reach = if self.passthrough_allow_private {
            "public and private hosts (PASSTHROUGH_ALLOW_PRIVATE)"
        } else {
            "public hosts only"
        };
        lines.push(match &self.passthrough_allowed_hosts {
            None => format!("passthrough: on, to {reach}"),
            Some(entries) if entries.is_empty() => {
                "passthrough: on, but PASSTHROUGH_ALLOWED_HOSTS allows no host".to_owned()
            }
            Some(entries) => {
                let hosts: Vec<String> = entries.iter().map(ToString::to_string).collect();
                format!("passthrough: on, to {} ({reach})", hosts.join(", "))
            }
        });
        lines.push(match (&self.aepipe_base_url, &self.aepipe_token) {
            (Some(url), Some(_)) => format!("aepipe reporting: on, to {url}"),
            (Some(_), None) => "aepipe reporting: off (AEPIPE_TOKEN is not set)".to_owned(),
            (None, Some(_)) => "aepipe reporting: off (AEPIPE_BASE_URL is not set)".to_owned(),
            (None, None) => "aepipe reporting: off".to_owned(),
        });
        lines.push(format!("access log: {} (LOG_LEVEL, LOG_FORMAT)", log_words(self.log)));
        let mut limits = Vec::new();
        if self.max_body_bytes != DEFAULT_MAX_BODY_BYTES {
            limits.push(format!("MAX_BODY_BYTES={}", self.max_body_bytes));
        }
        let t = self.upstream_timeouts;
        for (name, value, default) in [
            ("UPSTREAM_CONNECT_TIMEOUT_MS", t.connect, DEFAULT_TIMEOUTS.connect),
            ("UPSTREAM_FIRST_BYTE_TIMEOUT_MS", t.first_byte, DEFAULT_TIMEOUTS.first_byte),
            ("UPSTREAM_IDLE_TIMEOUT_MS", t.between_bytes, DEFAULT_TIMEOUTS.between_bytes),
        ] {
            if value != default {
                limits.push(format!("{name}={}", value.as_millis()));
            }
        }
        if !limits.is_empty() {
            lines.push(format!("limits: {}", limits.join(", ")));
        }
        for problem in &self.problems {
            lines.push(format!("setting ignored: {problem}"));
        }
        lines
    }
}

fn log_words(log: LogSettings) -> String {
    use super::{LogFormat, LogLevel};
    let level = match log.level {
        LogLevel::Off => return "off".to_owned(),
        LogLevel::Error => "errors only",
        LogLevel::Info => "every request",
        LogLevel::Debug => "every request, health checks and runtime detail",
    };
    let format = match log.format {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
    };
    format!("{level}, {format}")
}

/// Why an account or gateway id cannot be one, if it cannot: the example
/// configuration's placeholders are named as such.
fn id_problem(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let placeholder = value.contains(['<', '>', '{', '}', '[', ']', ' '])
        || ["your", "...", "xxx", "placeholder", "changeme", "example"].iter().any(|w| lower.contains(w));
    if placeholder {
        return Some(format!("is a placeholder ({})", crate::json::quoted(value)));
    }
    let valid = value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (!valid)
        .then(|| format!("({}) is not an id: ids are letters, digits, - and _", crate::json::quoted(value)))
}

#[cfg(test)]
mod tests {
    use crate::test_support::config;

    #[test]
    fn every_gateway_problem_at_once() {
        let none = config(&[]).gateway_problems();
        assert_eq!(none.len(), 3, "{none:?}");
        assert!(none[0].starts_with("GATEWAY_TOKEN") && none[1].starts_with("ACCOUNT_ID"));
        assert!(none[2].starts_with("GATEWAY_ID"));
        let placeholders = config(&[
            ("GATEWAY_TOKEN", "t"),
            ("ACCOUNT_ID", "<your Cloudflare account id>"),
            ("GATEWAY_ID", "my/gateway"),
            ("GATEWAY_BASE_URL", "ftp://x"),
        ])
        .gateway_problems();
        assert_eq!(placeholders.len(), 3, "{placeholders:?}");
        assert!(placeholders[0].contains("ACCOUNT_ID is a placeholder (\"<your Cloudflare account id>\")"));
        assert!(placeholders[1].contains("is not an id"));
        assert!(placeholders[2].starts_with("GATEWAY_BASE_URL"));
        let ready = config(&[("GATEWAY_TOKEN", "t"), ("ACCOUNT_ID", "0123abcd"), ("GATEWAY_ID", "my-gw_1")]);
        assert!(ready.gateway_problems().is_empty());
    }

    #[test]
    fn the_summary_names_what_is_on_and_never_a_secret() {
        let c = config(&[
            ("GATEWAY_TOKEN", "sk-secret"),
            ("ACCOUNT_ID", "acct"),
            ("GATEWAY_ID", "gw"),
            ("AEPIPE_BASE_URL", "https://aepipe.example.com"),
            ("AEPIPE_TOKEN", "ae-secret"),
            ("PASSTHROUGH_ALLOWED_HOSTS", "api.example.com,*.example.org:8443"),
            ("MAX_BODY_BYTES", "1000"),
            ("LOG_LEVEL", "loud"),
        ]);
        let text = c.summary().join("\n");
        assert!(!text.contains("secret"), "{text}");
        for want in [
            "gateway mode: on (account acct, gateway gw; GATEWAY_TOKEN set)",
            "passthrough: on, to api.example.com, *.example.org:8443 (public hosts only)",
            "aepipe reporting: on, to https://aepipe.example.com",
            "access log: every request, text",
            "limits: MAX_BODY_BYTES=1000",
            "setting ignored: LOG_LEVEL must be",
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        let off = config(&[]).summary().join("\n");
        assert!(off.contains("gateway mode: off: GATEWAY_TOKEN is not set"), "{off}");
        assert!(
            off.contains("passthrough: on, to public hosts only") && off.contains("aepipe reporting: off")
        );
    }
}
