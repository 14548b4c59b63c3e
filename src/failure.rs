//! Why an upstream gave no response, in words that are the same on every host.
//!
//! Hosts map their runtime's own errors to a [`FailureKind`] (wasi:http's
//! `ErrorCode` in the WASI host; workerd has only words, read by
//! [`UpstreamFailure::from_words`]); the core alone decides what the client
//! reads. The runtime's own text goes to the host log, never to a client.

use std::fmt;

/// What went wrong, as far as a client can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The upstream's name did not resolve.
    Dns,
    /// Nothing accepted the connection.
    Refused,
    /// The TLS handshake failed or the certificate was refused.
    Tls,
    /// The connection closed or reset before a complete response head.
    Closed,
    /// The upstream's answer was not valid HTTP.
    Protocol,
    /// The host runtime refused to open the connection (Spin's
    /// `allowed_outbound_hosts`).
    Denied,
    /// No connection within `UPSTREAM_CONNECT_TIMEOUT_MS`.
    ConnectTimeout,
    /// No response head within `UPSTREAM_FIRST_BYTE_TIMEOUT_MS`.
    ResponseTimeout,
    /// Anything else the runtime reported.
    Other,
}

impl FailureKind {
    /// `true` for the kinds answered `504`.
    pub fn is_timeout(self) -> bool {
        matches!(self, FailureKind::ConnectTimeout | FailureKind::ResponseTimeout)
    }

    /// What happened, in a few plain words (the same on every host).
    pub fn words(self) -> &'static str {
        match self {
            FailureKind::Dns => "the name did not resolve",
            FailureKind::Refused => "the connection was refused",
            FailureKind::Tls => "the TLS handshake failed",
            FailureKind::Closed => "the connection closed",
            FailureKind::Protocol => "the answer was not valid HTTP",
            FailureKind::Denied => "the runtime denied the connection",
            FailureKind::ConnectTimeout => "no connection in time",
            FailureKind::ResponseTimeout => "no answer in time",
            FailureKind::Other => "the connection failed",
        }
    }

    /// A short name for logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Dns => "dns",
            FailureKind::Refused => "refused",
            FailureKind::Tls => "tls",
            FailureKind::Closed => "closed",
            FailureKind::Protocol => "protocol",
            FailureKind::Denied => "denied",
            FailureKind::ConnectTimeout => "connect_timeout",
            FailureKind::ResponseTimeout => "response_timeout",
            FailureKind::Other => "other",
        }
    }
}

/// An upstream failure: its kind, and the runtime's own words for the host log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFailure {
    pub kind: FailureKind,
    /// What the runtime said (for the host log only).
    pub detail: String,
}

impl UpstreamFailure {
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        UpstreamFailure { kind, detail: detail.into() }
    }

    /// The failure a `wasi:http` error code names. `code` is the code as the
    /// `wasi` crate prints it (`ErrorCode::ConnectionRefused`, `ErrorCode::DnsError(…)`):
    /// its case names are the WASI specification's `error-code` cases, in Rust's spelling.
    pub fn from_wasi(code: &str) -> Self {
        let name = code.trim_start_matches("ErrorCode::");
        let name = name.split('(').next().unwrap_or_default();
        let kind = match name {
            "DnsError" | "DestinationNotFound" => FailureKind::Dns,
            "ConnectionRefused"
            | "DestinationUnavailable"
            | "DestinationIpProhibited"
            | "DestinationIpUnroutable" => FailureKind::Refused,
            "TlsProtocolError" | "TlsCertificateError" | "TlsAlertReceived" => FailureKind::Tls,
            "ConnectionTerminated" | "ConnectionLimitReached" | "HttpResponseIncomplete" => {
                FailureKind::Closed
            }
            "DnsTimeout" | "ConnectionTimeout" => FailureKind::ConnectTimeout,
            "ConnectionReadTimeout" | "ConnectionWriteTimeout" | "HttpResponseTimeout" => {
                FailureKind::ResponseTimeout
            }
            "HttpRequestDenied" => FailureKind::Denied,
            n if n.starts_with("HttpProtocol")
                || n.starts_with("HttpResponse")
                || n == "HttpUpgradeFailed" =>
            {
                FailureKind::Protocol
            }
            _ => FailureKind::Other,
        };
        UpstreamFailure::new(kind, code)
    }

    /// The failure a runtime's words describe (workerd has no error codes);
    /// the words stay in the detail, for the log. `uri` is where the request
    /// went: workerd answers a failed TLS handshake only with "internal error;
    /// reference = …", as it does a failed DNS lookup, so to an IP address (no
    /// lookup) over https it can only be the handshake.
    pub fn from_words(text: &str, uri: Option<&http::Uri>) -> Self {
        let lower = text.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        let mut kind = if has(&["dns", "not resolve", "lookup"]) {
            FailureKind::Dns
        } else if has(&["refused"]) {
            FailureKind::Refused
        } else if has(&["tls", "ssl", "certificate"]) {
            FailureKind::Tls
        } else if has(&["connection lost", "reset", "closed"]) {
            FailureKind::Closed
        } else {
            FailureKind::Other
        };
        let ip_literal = uri
            .and_then(http::Uri::host)
            .is_some_and(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok());
        let https = uri.and_then(http::Uri::scheme_str) == Some("https");
        if kind == FailureKind::Other && https && ip_literal && lower.contains("internal error") {
            kind = FailureKind::Tls;
        }
        UpstreamFailure::new(kind, text)
    }

    /// The message a client reads. `host` is the upstream's authority and
    /// `origin` its `scheme://host:port`; with `neutral` every connection
    /// failure reads the same, so a passthrough client cannot use the proxy to
    /// tell open ports from closed ones.
    pub fn message(&self, host: &str, origin: &str, neutral: bool) -> String {
        use FailureKind::*;
        match self.kind {
            ConnectTimeout => {
                format!("upstream {host} did not accept a connection in time (UPSTREAM_CONNECT_TIMEOUT_MS)")
            }
            ResponseTimeout => {
                format!("upstream {host} did not answer in time (UPSTREAM_FIRST_BYTE_TIMEOUT_MS)")
            }
            Denied => format!(
                "the runtime hosting the proxy does not allow connections to {host}; {}",
                denied_hint(origin)
            ),
            Dns | Refused | Tls | Closed | Protocol | Other if neutral => format!(
                "could not get a response from upstream {host}: the connection failed (DNS, refused, reset \
                 or TLS); check the host and port. A plain-HTTP upstream needs http:// in \
                 X-APEX-AI-PROXY-PROVIDER and PASSTHROUGH_ALLOW_PRIVATE=true"
            ),
            Dns => format!("upstream {host} could not be resolved (DNS); check the host name"),
            Refused => format!("upstream {host} refused the connection; check the host and port"),
            Tls => format!(
                "the TLS handshake with upstream {host} failed; is the upstream plain HTTP? then write \
                 http:// (passthrough also needs PASSTHROUGH_ALLOW_PRIVATE=true)"
            ),
            Closed => format!("upstream {host} closed the connection before answering"),
            Protocol => format!("upstream {host} did not answer with valid HTTP"),
            Other => format!(
                "upstream {host} could not be reached (DNS, connection or TLS failure); check the host and \
                 port, and write http:// for a plain-HTTP upstream"
            ),
        }
    }
}

/// Why a host stopped reading or writing a body.
#[derive(Debug, Clone)]
pub enum Stop {
    /// No byte moved within the limit.
    TimedOut,
    /// The other side closed the stream or hung up.
    Closed,
    /// The runtime reported a failure.
    Failed(UpstreamFailure),
}

impl Stop {
    /// What happened, in a few plain words (the same on every host).
    pub fn words(&self) -> &'static str {
        match self {
            Stop::TimedOut => "it stalled past the limit",
            Stop::Closed => "the connection closed",
            Stop::Failed(failure) => failure.kind.words(),
        }
    }
}

/// What to add so the host runtime allows connections to `origin`.
pub fn denied_hint(origin: &str) -> String {
    format!("on Spin, add \"{origin}\" to allowed_outbound_hosts in spin.toml")
}

impl fmt::Display for UpstreamFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_messages_do_not_tell_kinds_apart() {
        let kinds = [FailureKind::Dns, FailureKind::Refused, FailureKind::Tls, FailureKind::Closed];
        let neutral: Vec<String> =
            kinds.iter().map(|k| UpstreamFailure::new(*k, "x").message("h:1", "https://h:1", true)).collect();
        assert!(neutral.windows(2).all(|w| w[0] == w[1]), "{neutral:?}");
        let plain: Vec<String> = kinds
            .iter()
            .map(|k| UpstreamFailure::new(*k, "x").message("h:1", "https://h:1", false))
            .collect();
        assert!(plain.windows(2).all(|w| w[0] != w[1]));
        assert!(plain[2].contains("http://"), "the TLS failure points at plain HTTP");
        let denied = UpstreamFailure::new(FailureKind::Denied, "").message("h", "http://h:80", true);
        assert!(denied.ends_with("add \"http://h:80\" to allowed_outbound_hosts in spin.toml"), "{denied}");
    }

    #[test]
    fn wasi_codes() {
        let kind = |code: &str| UpstreamFailure::from_wasi(code).kind;
        assert_eq!(kind("ErrorCode::DnsError(DnsErrorPayload { rcode: None })"), FailureKind::Dns);
        assert_eq!(kind("ErrorCode::ConnectionRefused"), FailureKind::Refused);
        assert_eq!(kind("ErrorCode::TlsAlertReceived(TlsAlertReceivedPayload { .. })"), FailureKind::Tls);
        assert_eq!(kind("ErrorCode::HttpResponseIncomplete"), FailureKind::Closed);
        assert_eq!(kind("ErrorCode::HttpResponseTimeout"), FailureKind::ResponseTimeout);
        assert_eq!(kind("ErrorCode::HttpResponseHeaderSize(None)"), FailureKind::Protocol);
        assert_eq!(kind("ErrorCode::HttpRequestDenied"), FailureKind::Denied);
        assert_eq!(kind("ErrorCode::InternalError(None)"), FailureKind::Other);
    }

    #[test]
    fn workerd_words() {
        let kind =
            |text: &str, uri: &str| UpstreamFailure::from_words(text, Some(&uri.parse().unwrap())).kind;
        assert_eq!(kind("Network connection lost.", "http://h/"), FailureKind::Closed);
        assert_eq!(kind("connect ECONNREFUSED", "http://h/"), FailureKind::Refused);
        assert_eq!(kind("internal error; reference = x", "https://127.0.0.1:9/"), FailureKind::Tls);
        assert_eq!(kind("internal error; reference = x", "https://h.example/"), FailureKind::Other);
    }
}
