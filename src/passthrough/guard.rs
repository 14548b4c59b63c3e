//! Which passthrough targets may be reached: the SSRF guard and the allowlist.
//!
//! The guard judges the host as written. Addresses follow the IANA IPv4 and
//! IPv6 Special-Purpose Address Registries entry by entry (every block that is
//! not globally reachable is refused); names that only resolve inside a
//! machine, a LAN or a cloud (single labels, special-use and private-use
//! domains, cloud metadata names) are refused too. A public name that resolves
//! to a private address is not caught here (resolution happens in the host
//! runtime): `PASSTHROUGH_ALLOWED_HOSTS` is the answer where that matters.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::AllowEntry;
use crate::target::{Host, Scheme, Target};

/// Why a target is refused (answered with 403).
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
                "passthrough to {host} is refused: loopback, private, link-local, local-network and cloud \
                 metadata hosts need PASSTHROUGH_ALLOW_PRIVATE=true"
            ),
            Refusal::NotAllowed(host) => {
                format!("passthrough to {host} is refused: the host is not in PASSTHROUGH_ALLOWED_HOSTS")
            }
        }
    }
}

/// `true` when `entry` allows `target` (its port is the scheme's default
/// when the entry names none).
fn allows(entry: &AllowEntry, target: &Target) -> bool {
    let default = match target.scheme {
        Scheme::Https => 443,
        Scheme::Http => 80,
    };
    if entry.port.unwrap_or(default) != target.port.unwrap_or(default) {
        return false;
    }
    let host = target.host.to_string();
    match entry.wildcard {
        true => host.strip_suffix(entry.host.as_str()).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        false => host == entry.host,
    }
}

/// Checks `target` against the deployment's policy. `allowed_hosts`: `None`
/// when `PASSTHROUGH_ALLOWED_HOSTS` is unset (any public host), else the only
/// hosts allowed (an empty list allows none).
pub fn check(
    target: &Target,
    allow_private: bool,
    allowed_hosts: Option<&[AllowEntry]>,
) -> Result<(), Refusal> {
    if !allow_private {
        if target.scheme == Scheme::Http {
            return Err(Refusal::PlainHttp);
        }
        if is_internal(&target.host) {
            return Err(Refusal::Private(target.host.to_string()));
        }
    }
    if let Some(list) = allowed_hosts
        && !list.iter().any(|entry| allows(entry, target))
    {
        return Err(Refusal::NotAllowed(target.authority()));
    }
    Ok(())
}

/// `true` for hosts that are not publicly reachable: see the module docs.
pub fn is_internal(host: &Host) -> bool {
    match host {
        Host::Name(name) => is_internal_name(name),
        Host::V4(ip) => is_internal_v4(*ip),
        Host::V6(ip) => is_internal_v6(*ip),
    }
}

/// Domains that never name a public host: special-use (RFC 6761 and the IANA
/// registry: `localhost`, `local`, `test`, `invalid`, `example`, `onion`,
/// `alt`, `home.arpa`, all of `arpa`), ICANN's private-use `internal`, and the
/// de-facto LAN and cluster suffixes.
const INTERNAL_SUFFIXES: [&str; 16] = [
    "localhost",
    "local",
    "localdomain",
    "internal",
    "test",
    "invalid",
    "example",
    "onion",
    "alt",
    "arpa",
    "lan",
    "home",
    "corp",
    "intranet",
    "private",
    "svc",
];

/// Public names that cloud instance metadata services answer on.
const METADATA_NAMES: [&str; 2] = ["metadata.goog", "metadata.tencentyun.com"];

fn is_internal_name(name: &str) -> bool {
    let single_label = !name.contains('.');
    let suffix = name.rsplit('.').next().unwrap_or(name);
    // The numbered forms /etc/hosts files define: `localhost4.localdomain4`,
    // `localhost6.localdomain6` (Red Hat, Fedora, Amazon Linux and their cloud images).
    let numbered = ["localhost", "localdomain"]
        .iter()
        .any(|s| suffix.strip_prefix(s).is_some_and(|n| n.parse::<u8>().is_ok()));
    single_label || numbered || INTERNAL_SUFFIXES.contains(&suffix) || METADATA_NAMES.contains(&name)
}

/// IPv4 blocks of the IANA IPv4 Special-Purpose Address Registry that are not
/// globally reachable, plus multicast and the reserved space above it.
const INTERNAL_V4: [(Ipv4Addr, u8, &str); 16] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8, "this network"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private use"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "shared address space (CGNAT)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link local (cloud metadata)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private use"),
    // Includes 192.0.0.0/29 (DS-Lite), .8 (dummy), .9/.10 (PCP/TURN anycast,
    // the two global ones, which no HTTP API uses) and .170/.171 (NAT64 discovery).
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation (TEST-NET-1)"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "deprecated 6to4 relay anycast"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private use"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation (TEST-NET-2)"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation (TEST-NET-3)"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "limited broadcast"),
    // The registry's globally reachable entries stay reachable: 192.31.196.0/24
    // (AS112), 192.52.193.0/24 (AMT), 192.175.48.0/24 (AS112).
];

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    INTERNAL_V4.iter().any(|(net, len, _)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
        bits & mask == u32::from(*net) & mask
    })
}

/// IPv6 blocks inside global unicast (`2000::/3`) that the IANA IPv6
/// Special-Purpose Address Registry lists as not globally reachable. Everything
/// outside `2000::/3` is refused (loopback, unspecified, `::/96`, `100::/64`,
/// `100:0:0:1::/64`, `64:ff9b:1::/48`, `5f00::/16`, ULA, link-local, site-local,
/// multicast and all reserved space), except the two forms that carry an IPv4
/// address the host dials: v4-mapped `::ffff:0:0/96` and NAT64 `64:ff9b::/96`,
/// judged by that address, as is 6to4 `2002::/16`.
const INTERNAL_V6_GLOBAL_UNICAST: [(Ipv6Addr, u8, &str); 3] = [
    // Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID(v2), DRIP; also the
    // few anycast carve-outs (PCP, TURN, DNS-SD, AMT, AS112), no HTTP API.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignments"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation"),
];

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_internal_v4(v4);
    }
    let bits = u128::from(ip);
    let in_block = |net: Ipv6Addr, len: u8| {
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        bits & mask == u128::from(net) & mask
    };
    !in_block(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)
        || INTERNAL_V6_GLOBAL_UNICAST.iter().any(|(net, len, _)| in_block(*net, *len))
}

/// The IPv4 address a host dials for v4-mapped (`::ffff:a.b.c.d`), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
        }
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
