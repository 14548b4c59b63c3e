//! An upstream target as a user writes it: `X-APEX-AI-PROXY-PROVIDER` (and
//! each `PASSTHROUGH_ALLOWED_HOSTS` entry) parsed and checked.
//!
//! The text is an authority plus an optional base path, optionally behind
//! `https://` (or `http://`, which the caller allows only for private use).
//! Host names are checked label by label; anything a resolver might read as an
//! IPv4 address in a non-canonical spelling (`127.1`, `0x7f.0.0.1`, `2130706433`)
//! is refused, so the SSRF guard always sees the address that would be dialled.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::json::quoted;

/// The scheme used to reach the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Http,
}

/// The upstream host, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lowercased, without a trailing dot.
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::V4(ip) => write!(f, "{ip}"),
            Host::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A validated passthrough target: where `https://{PROVIDER}{path}` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    pub host: Host,
    pub port: Option<u16>,
    /// Empty, or starting with `/` and without a trailing `/`.
    pub base_path: String,
}

impl Target {
    /// `host[:port]` as it goes in the request's authority.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.to_string(),
        }
    }

    /// The full upstream URL for a client path (starting with `/`) and query.
    /// A base path ending in the version segment the path starts with (a
    /// provider header `api.example.com/v1` and an SDK base URL ending in `/v1`)
    /// gives that segment once: no upstream serves `/v1/v1/…`.
    pub fn url(&self, path: &str, query: Option<&str>) -> String {
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        let last = self.base_path.rsplit('/').next().unwrap_or_default();
        let path = match path.strip_prefix('/').and_then(|p| p.strip_prefix(last)) {
            Some(rest) if is_version(last) && (rest.is_empty() || rest.starts_with('/')) => rest,
            _ => path,
        };
        let mut url = format!("{scheme}://{}{}{path}", self.authority(), self.base_path);
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(q);
        }
        url
    }
}

/// `v1`, `v2`, `v1beta`, `v1alpha2`: an API version path segment.
fn is_version(segment: &str) -> bool {
    let mut rest = segment.strip_prefix('v').unwrap_or_default().chars().peekable();
    rest.peek().is_some_and(char::is_ascii_digit) && rest.all(|c| c.is_ascii_alphanumeric())
}

/// Parses the provider header. Errors are messages for the client.
pub fn parse_target(header: &str) -> Result<Target, String> {
    let raw = header.trim();
    if raw.is_empty() {
        return Err("X-APEX-AI-PROXY-PROVIDER is empty".into());
    }
    if let Some(c) = raw.chars().find(|c| c.is_whitespace() || c.is_control() || !c.is_ascii()) {
        return Err(format!(
            "X-APEX-AI-PROXY-PROVIDER must be an ASCII host[:port][/base-path]; found {} (use punycode for international names)",
            character(c)
        ));
    }
    let (scheme, rest) = split_scheme(raw)?;
    if let Some(c) = rest.chars().find(|c| matches!(c, '?' | '#' | '@' | '\\')) {
        return Err(format!(
            "X-APEX-AI-PROXY-PROVIDER must be host[:port][/base-path] without user-info, query or fragment; found {}",
            character(c)
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = parse_authority(authority)?;
    check_path(path)?;
    Ok(Target { scheme, host, port, base_path: path.trim_end_matches('/').to_owned() })
}

/// A character as a user reads it: "a space", "U+0007", or quoted.
fn character(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        c if c.is_control() || c.is_whitespace() => format!("the control character U+{:04X}", u32::from(c)),
        c => quoted(c.encode_utf8(&mut [0; 4])),
    }
}

/// A base path of URL path characters (RFC 3986 `pchar` and `/`), every `%`
/// starting an escape.
fn check_path(path: &str) -> Result<(), String> {
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ok = match b {
            b'%' => bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            _ => b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:/".contains(&b),
        };
        if !ok {
            return Err(format!(
                "X-APEX-AI-PROXY-PROVIDER: the base path may hold only URL path characters; found {}",
                character(char::from(b))
            ));
        }
    }
    Ok(())
}

fn split_scheme(raw: &str) -> Result<(Scheme, &str), String> {
    let lower = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    if lower.starts_with("https://") {
        Ok((Scheme::Https, &raw[8..]))
    } else if lower.starts_with("http://") {
        Ok((Scheme::Http, &raw[7..]))
    } else if raw.contains("://") {
        Err("X-APEX-AI-PROXY-PROVIDER may start with https:// (or http://), no other scheme".into())
    } else {
        Ok((Scheme::Https, raw))
    }
}

fn parse_authority(authority: &str) -> Result<(Host, Option<u16>), String> {
    if authority.is_empty() {
        return Err("X-APEX-AI-PROXY-PROVIDER has no host".into());
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) =
            rest.split_once(']').ok_or("X-APEX-AI-PROXY-PROVIDER: IPv6 literal without closing ']'")?;
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("X-APEX-AI-PROXY-PROVIDER: invalid IPv6 address {}", quoted(inside)))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("X-APEX-AI-PROXY-PROVIDER: junk after IPv6 literal")?),
        };
        (Host::V6(ip), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        (parse_host_name(name)?, port)
    };
    let port = port
        .map(|p| match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(format!("X-APEX-AI-PROXY-PROVIDER: invalid port {}", quoted(p))),
        })
        .transpose()?;
    Ok((host, port))
}

fn parse_host_name(name: &str) -> Result<Host, String> {
    let bad = |why: &str| Err(format!("X-APEX-AI-PROXY-PROVIDER: invalid host {}: {why}", quoted(name)));
    let lower = name.to_ascii_lowercase();
    let trimmed = lower.strip_suffix('.').unwrap_or(&lower);
    if trimmed.is_empty() || trimmed.len() > 253 {
        return bad("empty or longer than 253 characters");
    }
    let labels: Vec<&str> = trimmed.split('.').collect();
    for label in &labels {
        let valid_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if label.is_empty() || label.len() > 63 || !valid_chars {
            return bad("each dot-separated label must be 1-63 letters, digits, '-' or '_'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("labels may not start or end with '-'");
        }
    }
    // A name whose last label is numeric is an IPv4 address to every resolver:
    // accept it only in canonical dotted-quad form.
    let last = labels.last().copied().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        return match trimmed.parse::<Ipv4Addr>() {
            Ok(ip) if ip.to_string() == trimmed => Ok(Host::V4(ip)),
            _ => bad("numeric hosts must be a dotted-quad IPv4 address like 203.0.113.7"),
        };
    }
    Ok(Host::Name(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(header: &str) -> Target {
        parse_target(header).unwrap_or_else(|e| panic!("{header:?}: {e}"))
    }

    #[test]
    fn accepted_forms() {
        let t = ok("zenmux.ai/api/anthropic");
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(t.host, Host::Name("zenmux.ai".into()));
        assert_eq!(t.base_path, "/api/anthropic");
        assert_eq!(
            t.url("/v1/messages", Some("beta=true")),
            "https://zenmux.ai/api/anthropic/v1/messages?beta=true"
        );

        let t = ok("HTTPS://API.Example.com:8443/");
        assert_eq!(t.authority(), "api.example.com:8443");
        assert_eq!(t.url("/v1/models", None), "https://api.example.com:8443/v1/models");
        let versioned = parse_target("api.example.com/api/v1/").unwrap();
        assert_eq!(
            versioned.url("/v1/chat/completions", None),
            "https://api.example.com/api/v1/chat/completions"
        );
        assert_eq!(versioned.url("/v1", None), "https://api.example.com/api/v1");
        assert_eq!(versioned.url("/v1beta/models", None), "https://api.example.com/api/v1/v1beta/models");
        assert_eq!(versioned.url("/v10/x", None), "https://api.example.com/api/v1/v10/x");
        let beta = parse_target("example.com/v1beta").unwrap();
        assert_eq!(beta.url("/v1beta/models", None), "https://example.com/v1beta/models");
        let plain = parse_target("example.com/value").unwrap();
        assert_eq!(plain.url("/value/x", None), "https://example.com/value/value/x", "not a version");

        let t = ok("http://127.0.0.1:9000/base");
        assert_eq!((t.scheme, t.host.clone()), (Scheme::Http, Host::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(t.url("/x", Some("")), "http://127.0.0.1:9000/base/x");

        let t = ok("[2001:db8::1]:443/v");
        assert_eq!(t.authority(), "[2001:db8::1]:443");
        assert_eq!(ok("example.com.").host, Host::Name("example.com".into()));
        assert_eq!(ok("my_host.internal-1.example").host, Host::Name("my_host.internal-1.example".into()));
    }

    #[test]
    fn refused_forms() {
        for header in [
            "",
            "   ",
            "user@example.com",
            "user:pass@example.com/x",
            "exa mple.com",
            "example.com/a b",
            "example.com/a`b",
            "example.com/a\"b",
            "example.com/a<b",
            "example.com/a%zz",
            "example.com/a%4",
            "example.com\t/x",
            "exam\u{7f}ple.com",
            "bücher.de",
            "example.com?x=1",
            "example.com/#frag",
            "example.com\\evil.com",
            "ftp://example.com",
            "https://",
            "/path/only",
            "example..com",
            "-bad.example.com",
            "bad-.example.com",
            "example.com:0",
            "example.com:65536",
            "example.com:+80",
            "example.com:",
            "example.com:80:80",
            "[::1",
            "[::1]x",
            "[fe80::1%eth0]",
            "[not-v6]",
            "127.1",
            "0x7f.0.0.1",
            "2130706433",
            "127.000.000.001",
            "1.2.3.0x4",
            "256.1.1.1",
        ] {
            assert!(parse_target(header).is_err(), "{header:?} should be refused");
        }
    }

    #[test]
    fn long_labels_and_names() {
        let label = "a".repeat(63);
        assert!(parse_target(&format!("{label}.com")).is_ok());
        assert!(parse_target(&format!("{label}a.com")).is_err());
        let long = vec!["abcdefgh"; 30].join(".");
        assert!(parse_target(&long).is_err());
    }
}
