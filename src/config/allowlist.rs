//! `PASSTHROUGH_ALLOWED_HOSTS`: the hosts passthrough may reach, as entries
//! parsed once at start-up (the guard in `passthrough::guard` applies them).

use crate::target::{Host, parse_target};

/// One `PASSTHROUGH_ALLOWED_HOSTS` entry, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    /// `true` for `*.domain`: names below `domain`, not `domain` itself.
    pub wildcard: bool,
    /// The host as [`Host`] prints it (lowercase, no trailing dot, canonical IPv6).
    pub host: String,
    /// The port, or `None` for the scheme's default (443, or 80 for `http://`).
    pub port: Option<u16>,
}

impl std::fmt::Display for AllowEntry {
    /// As it would be written in `PASSTHROUGH_ALLOWED_HOSTS`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let wildcard = if self.wildcard { "*." } else { "" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match self.port {
            Some(port) => write!(f, "{wildcard}{host}:{port}"),
            None => write!(f, "{wildcard}{host}"),
        }
    }
}

impl AllowEntry {
    /// Parses `host[:port]` or `*.domain[:port]`, with an optional `https://`
    /// and trailing dot. `None` for anything else (a path, user-info, junk).
    pub fn parse(entry: &str) -> Option<AllowEntry> {
        let entry = entry.trim();
        let (wildcard, rest) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        let target = parse_target(rest).ok().filter(|t| t.base_path.is_empty())?;
        if wildcard && !matches!(target.host, Host::Name(_)) {
            return None;
        }
        Some(AllowEntry { wildcard, host: target.host.to_string(), port: target.port })
    }
}
