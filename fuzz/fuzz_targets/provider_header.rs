//! `X-APEX-AI-PROXY-PROVIDER` parsing and the SSRF guard: never a panic; an
//! accepted target always makes a valid absolute URI whose authority is the
//! one the guard judged.
#![no_main]
use apex_ai_proxy::config::AllowEntry;
use apex_ai_proxy::passthrough::guard;
use apex_ai_proxy::target::parse_target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (header, rest) = text.split_once('\n').unwrap_or((text, ""));
    let allowed: Vec<AllowEntry> = rest.split(',').filter_map(AllowEntry::parse).collect();
    let Ok(target) = parse_target(header) else { return };
    let _ = guard::check(&target, false, Some(&allowed));
    let _ = guard::check(&target, true, None);
    let url = target.url("/v1/x", Some("a=b"));
    let uri: http::Uri = url.parse().expect("an accepted target makes a valid URI");
    assert_eq!(uri.authority().map(|a| a.as_str().to_ascii_lowercase()), Some(target.authority()));
});
