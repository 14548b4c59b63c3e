//! Settings, read from whatever the host offers as name → value lookups
//! (environment variables on WASI, `vars` and secrets on Workers).
//!
//! Parsing never fails: a missing or malformed optional value is "not set" (or its
//! default), and the request that needs it answers a configuration error.

use std::fmt;
use std::time::Duration;

mod allowlist;
mod summary;

pub use allowlist::AllowEntry;

/// A secret value: compared and sent upstream, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// `None` for an absent or blank value.
    pub fn new(value: Option<String>) -> Option<Self> {
        value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).map(Secret)
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// Time limits for one upstream exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the connection.
    pub connect: Duration,
    /// From the request sent to the response head.
    pub first_byte: Duration,
    /// Longest silence between two body chunks.
    pub between_bytes: Duration,
}

impl Timeouts {
    /// The wait for a response head: connecting, the TLS handshake and the
    /// answer together (a runtime's connect timeout may not cover TLS).
    pub fn head(&self) -> Duration {
        self.connect + self.first_byte
    }
}

/// Which requests get an access-log line (`LOG_LEVEL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogLevel {
    /// None.
    Off,
    /// Status 400 or more, or an upstream that failed.
    Error,
    /// Every request but `OPTIONS` and `/healthz`.
    #[default]
    Info,
    /// Every request.
    Debug,
}

/// The shape of an access-log line (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `LOG_LEVEL` and `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogSettings {
    pub level: LogLevel,
    pub format: LogFormat,
}

/// Everything the proxy reads from its host; docs/configuration.md lists the names.
#[derive(Debug, Clone)]
pub struct Config {
    pub account_id: Option<String>,
    pub gateway_id: Option<String>,
    pub gateway_token: Option<Secret>,
    /// The gateway root, or why `GATEWAY_BASE_URL` cannot be used.
    pub gateway_base_url: Result<String, String>,
    pub azure_resource: Option<String>,
    pub azure_api_version: String,
    /// `None` when unset or unusable (see [`Config::problems`]).
    pub aepipe_base_url: Option<String>,
    pub aepipe_token: Option<Secret>,
    /// `None`: any public host. `Some`: only these (entries that could not be
    /// parsed are left out, so a list of typos allows nothing).
    pub passthrough_allowed_hosts: Option<Vec<AllowEntry>>,
    pub passthrough_allow_private: bool,
    /// `GATEWAY_MODELS`: the `model#provider` entries `GET /v1/models` lists
    /// (entries that do not name a known provider are left out).
    pub gateway_models: Vec<String>,
    /// `GATEWAY_FALLBACKS`: `model#provider=fallback#provider,…` entries
    /// separated by `;`, the chains tried for a requested model (after
    /// mapping) when the request names none (entries that do not parse are
    /// left out and named in [`Config::problems`]).
    pub gateway_fallbacks: Vec<(String, Vec<String>)>,
    /// `GATEWAY_MAX_ATTEMPTS`: attempts per request, its own included (1 to 4).
    pub max_attempts: usize,
    /// `GATEWAY_ATTEMPTS_TIMEOUT_MS`: the most time all attempts of a request
    /// may take before its answer's head (default: an attempt's connect and
    /// first-byte time for each attempt).
    pub attempts_timeout: Duration,
    pub max_body_bytes: usize,
    pub upstream_timeouts: Timeouts,
    pub log: LogSettings,
    /// What the serve flags tell a WASI instance (scripts/serve-flags.sh):
    /// how many requests it may serve (`APEX_INSTANCE_REUSE`, default 1) and
    /// how many aepipe calls may wait for an answer in it
    /// (`APEX_REPORTS_WAITING`, default 2). Not settings: host tuning.
    pub instance_reuse: usize,
    pub reports_waiting: usize,
    /// Settings that were set but could not be used, in words for the operator.
    pub problems: Vec<String>,
}

/// Every setting the proxy reads, by name (hosts pass exactly these on).
pub const SETTING_NAMES: [&str; 20] = [
    "ACCOUNT_ID",
    "GATEWAY_ID",
    "GATEWAY_TOKEN",
    "GATEWAY_BASE_URL",
    "GATEWAY_MODELS",
    "GATEWAY_FALLBACKS",
    "GATEWAY_MAX_ATTEMPTS",
    "GATEWAY_ATTEMPTS_TIMEOUT_MS",
    "AZURE_RESOURCE",
    "AZURE_API_VERSION",
    "AEPIPE_BASE_URL",
    "AEPIPE_TOKEN",
    "PASSTHROUGH_ALLOWED_HOSTS",
    "PASSTHROUGH_ALLOW_PRIVATE",
    "MAX_BODY_BYTES",
    "UPSTREAM_CONNECT_TIMEOUT_MS",
    "UPSTREAM_FIRST_BYTE_TIMEOUT_MS",
    "UPSTREAM_IDLE_TIMEOUT_MS",
    "LOG_LEVEL",
    "LOG_FORMAT",
];

/// What the serve flags tell a WASI instance (not settings: scripts/serve-flags.sh sets them).
pub const TUNING_NAMES: [&str; 2] = ["APEX_INSTANCE_REUSE", "APEX_REPORTS_WAITING"];

pub const DEFAULT_GATEWAY_BASE_URL: &str = "https://gateway.ai.cloudflare.com/v1";
pub const DEFAULT_AZURE_API_VERSION: &str = "2025-04-01-preview";
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    first_byte: Duration::from_secs(300),
    between_bytes: Duration::from_secs(300),
};

/// `GATEWAY_FALLBACKS`: `model#provider=fallback#provider,…;…`. An entry
/// without `=`, or naming an unknown provider, is left out and named.
fn fallbacks(value: Option<&str>, problems: &mut Vec<String>) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for entry in value.unwrap_or_default().split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = entry.split_once('=').and_then(|(model, chain)| {
            let chain: Vec<String> =
                chain.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned).collect();
            let all = std::iter::once(model.trim()).chain(chain.iter().map(String::as_str));
            let known = all.clone().all(|m| crate::providers::ModelRef::parse(m).is_ok());
            (known && !chain.is_empty()).then(|| (model.trim().to_owned(), chain))
        });
        match parsed {
            Some(entry) => out.push(entry),
            None => problems.push(format!(
                "GATEWAY_FALLBACKS entry {} is not model#provider=model#provider,… with known providers; it is left out",
                crate::json::quoted(entry)
            )),
        }
    }
    out
}

impl Config {
    /// Reads every setting through `get` (a name → value lookup). Secrets are
    /// looked up under their environment name (`GATEWAY_TOKEN`, `AEPIPE_TOKEN`);
    /// hosts with other secret names resolve them inside `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Config {
        let text = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let list = |name: &str| -> Vec<String> {
            let value = text(name).unwrap_or_default();
            value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
        };
        let mut problems = Vec::new();
        let tuning = |name: &str| text(name).and_then(|v| v.parse::<usize>().ok());
        let number = |name: &str, problems: &mut Vec<String>| {
            let value = text(name)?;
            let parsed = value.parse::<u64>().ok().filter(|n| *n > 0);
            if parsed.is_none() {
                problems.push(format!("{name} must be a whole number above 0; using the default"));
            }
            parsed
        };
        let mut millis = |name: &str, default: Duration| {
            number(name, &mut problems).map_or(default, Duration::from_millis)
        };
        let upstream_timeouts = Timeouts {
            connect: millis("UPSTREAM_CONNECT_TIMEOUT_MS", DEFAULT_TIMEOUTS.connect),
            first_byte: millis("UPSTREAM_FIRST_BYTE_TIMEOUT_MS", DEFAULT_TIMEOUTS.first_byte),
            between_bytes: millis("UPSTREAM_IDLE_TIMEOUT_MS", DEFAULT_TIMEOUTS.between_bytes),
        };
        let max_attempts = match number("GATEWAY_MAX_ATTEMPTS", &mut problems) {
            Some(n @ 1..=4) => n as usize,
            Some(_) => {
                problems.push("GATEWAY_MAX_ATTEMPTS must be 1 to 4; using 4".into());
                4
            }
            None => 4,
        };
        let attempts_timeout = number("GATEWAY_ATTEMPTS_TIMEOUT_MS", &mut problems)
            .map_or(upstream_timeouts.head() * max_attempts as u32, Duration::from_millis);
        let gateway_fallbacks = fallbacks(text("GATEWAY_FALLBACKS").as_deref(), &mut problems);
        let max_body_bytes = number("MAX_BODY_BYTES", &mut problems)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        let gateway_base_url = base_url("GATEWAY_BASE_URL", text("GATEWAY_BASE_URL"))
            .unwrap_or_else(|| Ok(DEFAULT_GATEWAY_BASE_URL.to_owned()));
        if let Err(problem) = &gateway_base_url {
            problems.push(problem.clone());
        }
        let aepipe_base_url = match base_url("AEPIPE_BASE_URL", text("AEPIPE_BASE_URL")) {
            Some(Ok(url)) => Some(url),
            Some(Err(problem)) => {
                problems.push(format!("{problem}; reporting is off"));
                None
            }
            None => None,
        };
        let passthrough_allowed_hosts = text("PASSTHROUGH_ALLOWED_HOSTS").map(|_| {
            let mut entries = Vec::new();
            for entry in list("PASSTHROUGH_ALLOWED_HOSTS") {
                match AllowEntry::parse(&entry) {
                    Some(parsed) => entries.push(parsed),
                    None => problems.push(format!(
                        "PASSTHROUGH_ALLOWED_HOSTS entry {} is not host[:port] or *.domain[:port]; it allows nothing",
                        crate::json::quoted(&entry)
                    )),
                }
            }
            entries
        });
        let log = LogSettings {
            level: match text("LOG_LEVEL").map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("info") => LogLevel::Info,
                Some("off" | "none" | "quiet") => LogLevel::Off,
                Some("error" | "errors") => LogLevel::Error,
                Some("debug" | "all") => LogLevel::Debug,
                Some(_) => {
                    problems.push("LOG_LEVEL must be off, error, info or debug; using info".into());
                    LogLevel::Info
                }
            },
            format: match text("LOG_FORMAT").map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(_) => {
                    problems.push("LOG_FORMAT must be text or json; using text".into());
                    LogFormat::Text
                }
            },
        };
        Config {
            account_id: text("ACCOUNT_ID"),
            gateway_id: text("GATEWAY_ID"),
            gateway_token: Secret::new(get("GATEWAY_TOKEN")),
            gateway_base_url,
            azure_resource: text("AZURE_RESOURCE"),
            azure_api_version: text("AZURE_API_VERSION")
                .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned()),
            aepipe_base_url,
            aepipe_token: Secret::new(get("AEPIPE_TOKEN")),
            passthrough_allowed_hosts,
            passthrough_allow_private: text("PASSTHROUGH_ALLOW_PRIVATE")
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")),
            gateway_models: list("GATEWAY_MODELS")
                .into_iter()
                .filter(|m| crate::providers::ModelRef::parse(m).is_ok())
                .collect(),
            max_body_bytes,
            upstream_timeouts,
            gateway_fallbacks,
            max_attempts,
            attempts_timeout,
            log,
            instance_reuse: tuning("APEX_INSTANCE_REUSE").unwrap_or(1),
            reports_waiting: tuning("APEX_REPORTS_WAITING").unwrap_or(2),
            problems,
        }
    }
}

/// A base URL setting: `http://` or `https://`, a host, no user-info (it would
/// be a credential in every log line and error), no query or fragment; the
/// trailing `/` dropped. `None` when unset.
fn base_url(name: &str, value: Option<String>) -> Option<Result<String, String>> {
    let value = value?;
    let problem = || {
        format!("{name} must be an http:// or https:// URL with a host and no user-info, query or fragment")
    };
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    let authority = rest.map(|r| r.split('/').next().unwrap_or_default());
    let usable = authority.is_some_and(|a| !a.is_empty() && !a.contains('@'))
        && !value.contains(['?', '#'])
        && value.parse::<http::Uri>().is_ok();
    Some(if usable { Ok(value.trim_end_matches('/').to_owned()) } else { Err(problem()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = config(&[]);
        assert_eq!(c.account_id, None);
        assert_eq!(c.gateway_token, None);
        assert_eq!(c.gateway_base_url.as_deref(), Ok(DEFAULT_GATEWAY_BASE_URL));
        assert_eq!(c.azure_api_version, DEFAULT_AZURE_API_VERSION);
        assert_eq!(c.max_body_bytes, 32 * 1024 * 1024);
        assert!(!c.passthrough_allow_private);
        assert_eq!(c.passthrough_allowed_hosts, None);
        assert!(c.problems.is_empty());
        assert_eq!(c.upstream_timeouts, DEFAULT_TIMEOUTS);
    }

    #[test]
    fn values_are_trimmed_and_parsed() {
        let c = config(&[
            ("GATEWAY_TOKEN", "  tok "),
            ("GATEWAY_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("PASSTHROUGH_ALLOWED_HOSTS", " API.example.com, *.Zenmux.ai ,,"),
            ("PASSTHROUGH_ALLOW_PRIVATE", "TRUE"),
            ("MAX_BODY_BYTES", "1024"),
            ("UPSTREAM_FIRST_BYTE_TIMEOUT_MS", "1500"),
        ]);
        assert_eq!(c.gateway_token.as_ref().map(Secret::expose), Some("tok"));
        assert_eq!(c.gateway_base_url.as_deref(), Ok("http://127.0.0.1:9/v1"));
        let hosts: Vec<String> = c
            .passthrough_allowed_hosts
            .unwrap()
            .iter()
            .map(|e| format!("{}{}", if e.wildcard { "*." } else { "" }, e.host))
            .collect();
        assert_eq!(hosts, ["api.example.com", "*.zenmux.ai"]);
        assert!(c.passthrough_allow_private);
        assert_eq!(c.max_body_bytes, 1024);
        assert_eq!(c.upstream_timeouts.first_byte, Duration::from_millis(1500));
    }

    #[test]
    fn blank_and_malformed_values_are_not_set() {
        let c = config(&[("GATEWAY_TOKEN", "   "), ("MAX_BODY_BYTES", "lots"), ("ACCOUNT_ID", "")]);
        assert_eq!(c.gateway_token, None);
        assert_eq!(c.account_id, None);
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.problems, ["MAX_BODY_BYTES must be a whole number above 0; using the default"]);
    }

    #[test]
    fn unusable_urls_and_allowlist_entries_are_problems() {
        let c = config(&[
            ("GATEWAY_BASE_URL", "https://user:pw@gw.example.com/v1"),
            ("AEPIPE_BASE_URL", "aepipe.example.com"),
            ("PASSTHROUGH_ALLOWED_HOSTS", "api.example.com/v1"),
        ]);
        assert!(c.gateway_base_url.as_ref().unwrap_err().starts_with("GATEWAY_BASE_URL must be"));
        assert_eq!(c.aepipe_base_url, None);
        assert_eq!(c.passthrough_allowed_hosts, Some(Vec::new()), "a list of typos allows nothing");
        assert_eq!(c.problems.len(), 3);
        assert!(!format!("{:?}", c.problems).contains("pw"), "user-info never echoed");
    }

    #[test]
    fn every_name_read_is_listed() {
        let read = std::cell::RefCell::new(Vec::new());
        Config::from_lookup(|name| {
            read.borrow_mut().push(name.to_owned());
            None
        });
        let mut read = read.into_inner();
        read.sort();
        read.dedup();
        let mut listed: Vec<String> =
            SETTING_NAMES.iter().chain(&TUNING_NAMES).map(|n| n.to_string()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }

    #[test]
    fn secrets_do_not_print() {
        let c = config(&[("GATEWAY_TOKEN", "sk-very-secret")]);
        assert!(!format!("{c:?}").contains("sk-very-secret"));
    }
}
