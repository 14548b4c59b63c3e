use super::*;
use crate::target::parse_target;

fn verdict(header: &str, allow_private: bool, allowed: Option<&[&str]>) -> Result<(), Refusal> {
    let allowed: Option<Vec<AllowEntry>> =
        allowed.map(|list| list.iter().map(|s| AllowEntry::parse(s).unwrap()).collect());
    check(&parse_target(header).unwrap(), allow_private, allowed.as_deref())
}

fn refused(host: &str) -> bool {
    matches!(verdict(host, false, None), Err(Refusal::Private(_)))
}

#[test]
fn every_non_global_ipv4_registry_block_is_refused() {
    // First, last and a middle address of each block of INTERNAL_V4.
    for (net, len, name) in INTERNAL_V4 {
        let first = u32::from(net);
        let last = first | (u32::MAX.checked_shr(u32::from(len)).unwrap_or(0));
        for ip in [first, last, first + (last - first) / 2] {
            let ip = Ipv4Addr::from(ip);
            assert!(refused(&ip.to_string()), "{ip} ({name})");
            assert!(refused(&format!("[::ffff:{ip}]")), "v4-mapped {ip}");
            assert!(refused(&format!("[64:ff9b::{ip}]")), "NAT64 {ip}");
            let o = ip.octets();
            let six_to_four = format!("[2002:{:02x}{:02x}:{:02x}{:02x}::1]", o[0], o[1], o[2], o[3]);
            assert!(refused(&six_to_four), "6to4 {ip}");
            assert_eq!(verdict(&ip.to_string(), true, None), Ok(()), "{ip} allowed when private is on");
        }
    }
}

#[test]
fn ipv6_outside_global_unicast_and_special_blocks_are_refused() {
    for host in [
        "[::1]",
        "[::]",
        "[::0.0.1.2]", // IPv4-compatible (deprecated), whatever it embeds
        "[::127.0.0.1]",
        "[::ffff:0:127.0.0.1]", // SIIT IPv4-translated
        "[::ffff:0:8.8.8.8]",
        "[64:ff9b:1::10.0.0.1]", // local-use NAT64
        "[64:ff9b:1::8.8.8.8]",
        "[100::1]",       // discard-only
        "[100:0:0:1::1]", // dummy prefix
        "[2001::1]",      // Teredo
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
        "[2001:2::1]",        // benchmarking
        "[2001:10::1]",       // ORCHID
        "[2001:20::1]",       // ORCHIDv2
        "[2001:1ff:ffff::1]", // last of 2001::/23
        "[2001:db8::1]",      // documentation
        "[3fff::1]",          // documentation (RFC 9637)
        "[3fff:fff::1]",
        "[5f00::1]", // SRv6 SIDs
        "[fc00::1]",
        "[fd12:3456::1]",
        "[fe80::1]",
        "[febf::1]",
        "[fec0::1]",
        "[ff02::1]",
        "[4000::1]", // reserved space beyond 2000::/3
        "[e000::1]",
    ] {
        assert!(refused(host), "{host} should be refused");
        assert_eq!(verdict(host, true, None), Ok(()), "{host} allowed when private is on");
    }
}

#[test]
fn local_and_cloud_names_are_refused() {
    for host in [
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "vm",
        "metadata",
        "instance-data",
        "ip6-localhost",
        "ip6-loopback",
        "localhost4",
        "localhost6",
        "localhost.localdomain",
        "localhost4.localdomain4",
        "localhost6.localdomain6",
        "localhost6.localdomain6.",
        "gateway.docker.internal",
        "ip6-allnodes",
        "broadcasthost",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.tencentyun.com",
        "instance-data.ec2.internal",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "host.docker.internal",
        "printer.local",
        "router.home.arpa",
        "1.0.0.127.in-addr.arpa",
        "nas.lan",
        "wiki.corp",
        "x.test",
        "x.invalid",
        "x.example",
        "abc.onion",
    ] {
        assert!(refused(host), "{host} should be refused");
        assert_eq!(verdict(host, true, None), Ok(()), "{host} allowed when private is on");
    }
}

#[test]
fn public_hosts_pass() {
    for host in [
        "api.openai.com",
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "192.0.1.1",
        "192.31.196.1",
        "192.175.48.1",
        "198.20.0.1",
        "[2001:4860:4860::8888]",
        "[2606:4700::1111]",
        "[2620:4f:8000::1]",
        "[2001:200::1]",
        "[::ffff:8.8.8.8]",
        "[64:ff9b::8.8.8.8]",
        "[2002:0808:0808::1]",
        "localhost.example.com",
        "notlocalhost.com",
        "my-internal.example.com",
        "zenmux.ai",
    ] {
        assert_eq!(verdict(host, false, None), Ok(()), "{host}");
    }
}

#[test]
fn plain_http_needs_private_mode() {
    assert_eq!(verdict("http://api.example.com", false, None), Err(Refusal::PlainHttp));
    assert_eq!(verdict("http://api.example.com", true, None), Ok(()));
}

#[test]
fn allowlist_with_ports_and_normalised_entries() {
    let list: &[&str] =
        &["api.example.com", "*.zenmux.ai", "[2606:4700:0:0::1111]", "HTTPS://Eu.Gateway.net.:8443"];
    let ok = |h: &str| verdict(h, false, Some(list));
    let denied = |h: &str| matches!(ok(h), Err(Refusal::NotAllowed(_)));
    assert_eq!(ok("api.example.com/v1"), Ok(()));
    assert_eq!(ok("api.example.com:443/v1"), Ok(()));
    assert_eq!(ok("eu.zenmux.ai"), Ok(()));
    assert_eq!(ok("a.b.zenmux.ai:443"), Ok(()));
    assert_eq!(ok("[2606:4700::1111]"), Ok(()));
    assert_eq!(ok("eu.gateway.net:8443"), Ok(()));
    for host in [
        "zenmux.ai",
        "evilzenmux.ai",
        "example.com",
        "api.example.com.evil.org",
        "api.example.com:22",
        "eu.zenmux.ai:8080",
        "eu.gateway.net",
    ] {
        assert!(denied(host), "{host}");
    }
    // The allowlist never opens what the SSRF guard closes.
    assert!(matches!(verdict("localhost", false, Some(&["localhost"])), Err(Refusal::Private(_))));
    assert_eq!(verdict("http://localhost:8080", true, Some(&["localhost:8080"])), Ok(()));
    assert!(
        matches!(verdict("http://localhost", true, Some(&["localhost"])), Ok(())),
        "http default port 80"
    );
    // A list that is set but empty allows nothing.
    assert!(matches!(verdict("api.openai.com", false, Some(&[])), Err(Refusal::NotAllowed(_))));
}

#[test]
fn allowlist_entries_that_cannot_match_are_refused_at_parse() {
    for bad in ["", "a b", "api.example.com/v1", "user@host", "*.8.8.8.8", "ftp://x.com", "[::1"] {
        assert_eq!(AllowEntry::parse(bad), None, "{bad}");
    }
    assert_eq!(
        AllowEntry::parse("[2606:4700:0:0:0:0:0:1111]:443"),
        Some(AllowEntry { wildcard: false, host: "[2606:4700::1111]".into(), port: Some(443) })
    );
}
