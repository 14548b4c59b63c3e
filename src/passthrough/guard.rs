//! Which passthrough targets may be reached: the SSRF guard and the allowlist.
//!
//! The guard judges the host as written. A public name that resolves to a private
//! address is not caught here (resolution happens in the host runtime); set
//! `PASSTHROUGH_ALLOWED_HOSTS` when that matters.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::target::{Host, Scheme, Target};

/// Why a target is refused (answered with 403, or 400 for the scheme).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `http://` without `PASSTHROUGH_ALLOW_PRIVATE=true`.
    PlainHttp,
    /// Loopback, private, link-local… without `PASSTHROUGH_ALLOW_PRIVATE=true`.
    Private(String),
    /// Not in `PASSTHROUGH_ALLOWED_HOSTS`.
    NotAllowed(String),
}

impl Refusal {
    /// A message for the client; names the setting that would change the answer.
    pub fn message(&self) -> String {
        match self {
            Refusal::PlainHttp => {
                "passthrough to http:// upstreams needs PASSTHROUGH_ALLOW_PRIVATE=true; use https://".into()
            }
            Refusal::Private(host) => format!(
                "passthrough to {host} is refused: loopback, private, link-local and other internal addresses need PASSTHROUGH_ALLOW_PRIVATE=true"
            ),
            Refusal::NotAllowed(host) => {
                format!("passthrough to {host} is refused: the host is not in PASSTHROUGH_ALLOWED_HOSTS")
            }
        }
    }
}

/// Checks `target` against the deployment's policy.
pub fn check(target: &Target, allow_private: bool, allowed_hosts: &[String]) -> Result<(), Refusal> {
    if !allow_private {
        if target.scheme == Scheme::Http {
            return Err(Refusal::PlainHttp);
        }
        if is_internal(&target.host) {
            return Err(Refusal::Private(target.host.to_string()));
        }
    }
    if !allowed_hosts.is_empty() {
        let host = target.host.to_string();
        if !allowed_hosts.iter().any(|pattern| host_matches(pattern, &host)) {
            return Err(Refusal::NotAllowed(host));
        }
    }
    Ok(())
}

/// `*.example.com` matches any name below `example.com` (not `example.com`
/// itself); any other pattern matches exactly.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => host.strip_suffix(domain).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern == host,
    }
}

/// `true` for `localhost` names and for addresses that are not publicly routable.
pub fn is_internal(host: &Host) -> bool {
    match host {
        Host::Name(name) => name == "localhost" || name.ends_with(".localhost"),
        Host::V4(ip) => is_internal_v4(*ip),
        Host::V6(ip) => is_internal_v6(*ip),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || a == 0 // "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || ip.is_multicast()
        || a >= 240 // reserved and broadcast
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (seg[0] & 0xff00) == 0xff00 // multicast
}

/// The IPv4 address carried inside v4-mapped (`::ffff:a.b.c.d`), v4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match seg {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(low), // ::/96 but not :: or ::1
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::target::parse_target;
    use super::*;

    fn verdict(header: &str, allow_private: bool, allowed: &[&str]) -> Result<(), Refusal> {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        check(&parse_target(header).unwrap(), allow_private, &allowed)
    }

    #[test]
    fn internal_hosts_are_refused_by_default() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "127.0.0.1",
            "127.255.0.9:8080",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "[::1]",
            "[::]",
            "[fc00::1]",
            "[fd12:3456::1]",
            "[fe80::1]",
            "[febf::1]",
            "[fec0::1]",
            "[ff02::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:10.0.0.1]",
            "[::ffff:a9fe:a9fe]",
            "[::127.0.0.1]",
            "[64:ff9b::10.0.0.1]",
            "[2002:c0a8:0101::1]",
        ] {
            assert!(
                matches!(verdict(host, false, &[]), Err(Refusal::Private(_))),
                "{host} should be refused"
            );
            assert_eq!(verdict(host, true, &[]), Ok(()), "{host} allowed when private is on");
        }
    }

    #[test]
    fn public_hosts_pass() {
        for host in [
            "api.openai.com",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.2.1",
            "[2001:4860:4860::8888]",
            "[::ffff:8.8.8.8]",
            "[2002:0808:0808::1]",
            "localhost.example.com",
            "notlocalhost",
        ] {
            assert_eq!(verdict(host, false, &[]), Ok(()), "{host}");
        }
    }

    #[test]
    fn plain_http_needs_private_mode() {
        assert_eq!(verdict("http://api.example.com", false, &[]), Err(Refusal::PlainHttp));
        assert_eq!(verdict("http://api.example.com", true, &[]), Ok(()));
    }

    #[test]
    fn allowlist() {
        let list = ["api.example.com", "*.zenmux.ai", "[2001:db8::1]"];
        assert_eq!(verdict("api.example.com/v1", false, &list), Ok(()));
        assert_eq!(verdict("eu.zenmux.ai", false, &list), Ok(()));
        assert_eq!(verdict("a.b.zenmux.ai:443", false, &list), Ok(()));
        assert_eq!(verdict("[2001:db8::1]", false, &list), Ok(()));
        for host in ["zenmux.ai", "evilzenmux.ai", "example.com", "api.example.com.evil.org"] {
            assert!(matches!(verdict(host, false, &list), Err(Refusal::NotAllowed(_))), "{host}");
        }
        // The allowlist never opens what the SSRF guard closes.
        assert!(matches!(verdict("localhost", false, &["localhost"]), Err(Refusal::Private(_))));
        assert_eq!(verdict("http://localhost:8080", true, &["localhost"]), Ok(()));
    }
}
