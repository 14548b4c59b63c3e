//! `X-APEX-AI-PROXY-MAPPING`: rewrite the request's `model` (docs/mapping.md).

/// The header's name.
pub const MAPPING_HEADER: &str = "x-apex-ai-proxy-mapping";

/// Parsed `from1#to1,from2#to2` rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelMapping {
    /// `(from, to)`, at most one entry per `from` (the last one given).
    rules: Vec<(String, String)>,
}

impl ModelMapping {
    /// Entries are split on `,` and trimmed, each split at its first `#`; entries
    /// with no `#` or an empty side are skipped; a later entry for the same `from`
    /// replaces an earlier one.
    pub fn parse(header: &str) -> ModelMapping {
        let mut rules: Vec<(String, String)> = Vec::new();
        for entry in header.split(',') {
            let Some((from, to)) = entry.trim().split_once('#') else {
                continue;
            };
            let (from, to) = (from.trim(), to.trim());
            if from.is_empty() || to.is_empty() {
                continue;
            }
            rules.retain(|(f, _)| f != from);
            rules.push((from.to_owned(), to.to_owned()));
        }
        ModelMapping { rules }
    }

    /// `true` when no rule survived parsing.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The mapped model, or `None` when no rule matches. The match is exact and
    /// case-sensitive on the part before the first `#`; a `#provider` suffix is
    /// kept. One step only: the result is not mapped again.
    pub fn apply(&self, model: &str) -> Option<String> {
        let (bare, suffix) = match model.split_once('#') {
            Some((bare, provider)) => (bare, Some(provider)),
            None => (model, None),
        };
        let (_, to) = self.rules.iter().find(|(from, _)| from == bare)?;
        Some(match suffix {
            Some(provider) => format!("{to}#{provider}"),
            None => to.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(header: &str, model: &str) -> Option<String> {
        ModelMapping::parse(header).apply(model)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("a#b", "a", Some("b")),
            ("a#b", "a#openai", Some("b#openai")),
            (
                "claude-opus-4.7#mimo-v2.5-pro,claude-sonnet-4-6#mimo-v2.5",
                "claude-opus-4.7#anthropic",
                Some("mimo-v2.5-pro#anthropic"),
            ),
            (" a # b , c#d ", "c", Some("d")),
            ("a#b", "A", None),
            ("a#b", "ab", None),
            // The target may carry its own '#': split at the first one only.
            ("a#b#groq", "a", Some("b#groq")),
            ("a#b#groq", "a#openai", Some("b#groq#openai")),
            // Later entries win.
            ("a#b,a#c", "a", Some("c")),
            // No chaining.
            ("a#b,b#c", "a", Some("b")),
            // Skipped entries.
            ("a", "a", None),
            ("#b", "", None),
            ("a#", "a", None),
            (",,, ,", "a", None),
            ("", "a", None),
        ];
        for (header, model, want) in cases {
            assert_eq!(map(header, model).as_deref(), *want, "{header:?} on {model:?}");
        }
    }

    #[test]
    fn empty_detection() {
        assert!(ModelMapping::parse(" , a, #x, y#").is_empty());
        assert!(!ModelMapping::parse("a#b").is_empty());
    }
}
