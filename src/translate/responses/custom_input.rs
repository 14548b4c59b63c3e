//! A `custom` tool (free-form text input, like Codex's `apply_patch`) reaches
//! the chat model as a function with one string parameter, `input`. Its
//! arguments stream back as JSON text, `{"input": "…escaped…"}`; the client
//! wants the decoded text, live. [`CustomInput`] decodes it as it arrives; when
//! the arguments take another shape, the whole input is decoded at the end.

use serde_json::Value;

/// The text a custom call's complete `arguments` carry: the `input` string, or
/// the arguments themselves when they are not `{"input": "…"}`.
pub fn input_of(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(fields)) => match fields.get("input") {
            Some(Value::String(input)) => input.clone(),
            _ => arguments.to_owned(),
        },
        _ => arguments.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Before the string: matching `{ "input" : "` (whitespace allowed).
    Seeking,
    InString,
    /// After `\`.
    Escape,
    /// Inside `\uXXXX`: the hex digits so far.
    Unicode(String),
    /// The string ended; the rest of the arguments are ignored.
    Ended,
    /// The arguments have another shape: decoded whole at the end.
    Whole,
}

/// The incremental decoder of one call's `{"input": "…"}` arguments.
#[derive(Debug, Clone)]
pub struct CustomInput {
    state: State,
    /// What has been matched of the prefix (while [`State::Seeking`]).
    prefix: String,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    /// Every argument byte received (for [`State::Whole`] and the final check).
    raw: String,
    /// The decoded text given out so far.
    given: String,
}

/// The prefix `{"input":"` without its whitespace.
const PREFIX: &str = "{\"input\":\"";

impl Default for CustomInput {
    fn default() -> Self {
        CustomInput {
            state: State::Seeking,
            prefix: String::new(),
            high: None,
            raw: String::new(),
            given: String::new(),
        }
    }
}

impl CustomInput {
    /// The decoded text a fragment of the arguments adds (may be empty).
    pub fn push(&mut self, fragment: &str) -> String {
        self.raw.push_str(fragment);
        let mut out = String::new();
        for c in fragment.chars() {
            self.step(c, &mut out);
        }
        self.given.push_str(&out);
        out
    }

    /// The rest of the input once the arguments are complete, so that
    /// everything given out equals [`input_of`] the whole arguments.
    pub fn finish(&mut self) -> String {
        let whole = input_of(&self.raw);
        let rest = match whole.strip_prefix(self.given.as_str()) {
            Some(rest) => rest.to_owned(),
            // Given out text that is not a prefix cannot happen for well-formed
            // arguments; send what completes the text as best it can.
            None => String::new(),
        };
        self.given.push_str(&rest);
        rest
    }

    fn step(&mut self, c: char, out: &mut String) {
        match &mut self.state {
            State::Seeking => {
                if c.is_whitespace() {
                    return;
                }
                self.prefix.push(c);
                if self.prefix == PREFIX {
                    self.state = State::InString;
                } else if !PREFIX.starts_with(&self.prefix) {
                    self.state = State::Whole;
                }
            }
            State::InString => match c {
                '\\' => self.state = State::Escape,
                '"' => self.state = State::Ended,
                c => out.push(c),
            },
            State::Escape => {
                self.state = State::InString;
                let decoded = match c {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'u' => {
                        self.state = State::Unicode(String::new());
                        return;
                    }
                    other => other, // '"', '\\', '/'
                };
                out.push(decoded);
            }
            State::Unicode(hex) => {
                hex.push(c);
                if hex.len() < 4 {
                    return;
                }
                let Ok(unit) = u16::from_str_radix(hex, 16) else {
                    self.state = State::Whole;
                    return;
                };
                self.state = State::InString;
                match (self.high.take(), unit) {
                    (None, 0xD800..=0xDBFF) => self.high = Some(unit),
                    (Some(high), 0xDC00..=0xDFFF) => {
                        let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    (_, unit) => out.push(char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}')),
                }
            }
            State::Ended | State::Whole => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(arguments: &str, at: usize) -> String {
        let mut d = CustomInput::default();
        let (a, b) = arguments.split_at(at);
        let mut out = d.push(a);
        out.push_str(&d.push(b));
        out.push_str(&d.finish());
        out
    }

    #[test]
    fn decodes_live_at_every_split() {
        let input = "*** Begin Patch\n*** Add File: a.txt\n+h\u{e9}llo \"w\" \\ \u{1F600}\t\n*** End Patch";
        let arguments = serde_json::json!({"input": input}).to_string();
        let escaped = format!(
            "{{ \"input\" : {} }}",
            serde_json::to_string(input).unwrap().replace('\u{1F600}', "\\ud83d\\ude00")
        );
        for args in [arguments.as_str(), escaped.as_str()] {
            for at in (0..=args.len()).filter(|i| args.is_char_boundary(*i)) {
                assert_eq!(decode_split(args, at), input, "{args} at {at}");
            }
        }
        let mut live = CustomInput::default();
        assert_eq!(live.push("{\"input\":\"ab"), "ab", "text flows before the arguments end");
    }

    #[test]
    fn other_shapes_are_decoded_whole() {
        assert_eq!(decode_split(r#"{"patch":"x"}"#, 3), r#"{"patch":"x"}"#);
        assert_eq!(decode_split("plain text", 4), "plain text");
        assert_eq!(input_of(r#"{"input":5}"#), r#"{"input":5}"#);
    }
}
