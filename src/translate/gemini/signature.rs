//! Reasoning carried back through Gemini's `thoughtSignature`
//! (docs/translation.md, "Reasoning carried back").
//!
//! Gemini clients keep no `thought` parts in their history (Gemini CLI drops
//! them), but they keep a function call's `thoughtSignature` and send it
//! back, as Gemini's thinking models require. For a provider that wants its
//! reasoning back (DeepSeek), the proxy signs a turn's first call with the
//! turn's reasoning: base64 of a marker and the text, not encrypted. Coming
//! back, a signature with the marker is that reasoning again; any other
//! (Google's own, Gemini CLI's placeholder) is not the proxy's and is left
//! alone.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const MARK: &str = "apex-ai-proxy:reasoning:v1:";

/// The most reasoning a signature carries: past it the turn is not signed
/// (and a provider that wants it back may refuse the next request).
pub const MAX_SIGNED: usize = 256 * 1024;

/// The `thoughtSignature` carrying `reasoning`.
pub fn sign(reasoning: &str) -> String {
    STANDARD.encode(format!("{MARK}{reasoning}"))
}

/// The reasoning a signature the proxy made carries.
pub fn reasoning(signature: &str) -> Option<String> {
    let bytes = STANDARD.decode(signature).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix(MARK).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_carries_the_reasoning_and_only_ours_is_read() {
        assert_eq!(reasoning(&sign("Step 1: call f.")).as_deref(), Some("Step 1: call f."));
        assert_eq!(reasoning("skip_thought_signature_validator"), None, "Gemini CLI's placeholder");
        assert_eq!(reasoning(&STANDARD.encode([0xff, 0x00, 0x12])), None, "Google's bytes");
    }
}
