//! A request header that looks like one of the proxy's own but is not: a typo
//! in `X-APEX-AI-PROXY-PROVIDER` would otherwise fall silently into gateway
//! mode and answer "invalid gateway token", blaming the key.

use http::HeaderMap;

use crate::errors::ProxyError;
use crate::headers::{FALLBACK_HEADER, PROVIDER_HEADER, TYPE_HEADER};
use crate::mapping::MAPPING_HEADER;

/// The headers the proxy reads.
const OURS: [&str; 4] = [PROVIDER_HEADER, MAPPING_HEADER, TYPE_HEADER, FALLBACK_HEADER];

/// A `400` naming the first header that looks like one of ours and is not,
/// and the one it probably meant.
pub fn check(headers: &HeaderMap) -> Result<(), ProxyError> {
    for name in headers.keys() {
        let name = name.as_str();
        if OURS.contains(&name) {
            continue;
        }
        if let Some(meant) = meant(name) {
            return Err(ProxyError::BadRequest(format!(
                "unknown header {name}; did you mean {}? The proxy reads {}",
                meant.to_ascii_uppercase(),
                OURS.map(str::to_ascii_uppercase).join(", ")
            )));
        }
    }
    Ok(())
}

/// How many edits away a name is still taken for a typo of ours.
const MAX_TYPOS: usize = 3;

/// The header of ours `name` (lowercase) was probably meant to be: one that
/// carries our prefix or a close spelling of it, or lies a few typos away.
fn meant(name: &str) -> Option<&'static str> {
    let squashed: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let prefixed =
        squashed.starts_with("xapex") || squashed.contains("apexai") || squashed.contains("aiproxy");
    // A name whose length is more than 3 away from each of ours is more than 3
    // edits away: most headers are rejected without measuring (every request
    // pays this check).
    let near = OURS.iter().any(|ours| name.len().abs_diff(ours.len()) <= MAX_TYPOS);
    if !prefixed && !near {
        return None;
    }
    let (distance, closest) = OURS.iter().map(|ours| (edit_distance(name, ours), *ours)).min()?;
    (prefixed || distance <= MAX_TYPOS).then_some(closest)
}

/// Levenshtein distance over bytes (header names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::head;

    fn said(name: &str) -> Option<String> {
        check(&head("POST", "/v1/x", &[(name, "v")]).headers).err().map(|e| e.message())
    }

    #[test]
    fn near_misses_name_the_header_meant() {
        for (typo, meant) in [
            ("X-APEX-AI-PROXY-PROVIDR", "X-APEX-AI-PROXY-PROVIDER"),
            ("x-apex-ai-provider", "X-APEX-AI-PROXY-PROVIDER"),
            ("x-apex-proxy-provider", "X-APEX-AI-PROXY-PROVIDER"),
            ("apex-ai-proxy-provider", "X-APEX-AI-PROXY-PROVIDER"),
            ("x-apex-ai-proxy-mapings", "X-APEX-AI-PROXY-MAPPING"),
            ("x_apex_ai_proxy_mapping", "X-APEX-AI-PROXY-MAPPING"),
            ("x-apex-ai-proxy-types", "X-APEX-AI-PROXY-TYPE"),
        ] {
            let message = said(typo).unwrap_or_else(|| panic!("{typo} passed"));
            assert!(message.contains(&format!("did you mean {meant}?")), "{typo}: {message}");
        }
        assert!(said("x-apex-ai-proxy-model").is_some(), "any header with our prefix is ours or a typo");
    }

    #[test]
    fn our_headers_and_everyone_elses_pass() {
        for name in [
            "x-apex-ai-proxy-provider",
            "X-APEX-AI-PROXY-MAPPING",
            "x-apex-ai-proxy-type",
            "authorization",
            "x-api-key",
            "anthropic-version",
            "x-stainless-os",
            "openai-organization",
            "x-request-id",
            "cf-aig-cache-ttl",
            "x-app",
        ] {
            assert_eq!(said(name), None, "{name}");
        }
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
