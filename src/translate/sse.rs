//! Server-Sent Events both ways: [`write_event`] frames one event, and
//! [`SseDecoder`] is an incremental decoder: feed bytes split anywhere, get the
//! `data` of each complete event. Handles `\n`, `\r\n` and `\r` line endings
//! (even split between two chunks), `data:` with or without the space, multi-line
//! data, comments and other fields (ignored).
//!
//! Memory is bounded: a line or an event's data longer than [`MAX_EVENT_BYTES`]
//! stops the decoder for good ([`SseDecoder::overflowed`]); it then holds nothing
//! and decodes nothing more.

/// The largest SSE line, and the largest data of one event, the decoder holds:
/// far above any real event (the largest LLM events, tool-call argument deltas,
/// are some hundred KiB), far below what would hurt a 128 MB Worker isolate.
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// Appends one event, `event: <name>` with its `data` on one line.
pub fn write_event(out: &mut Vec<u8>, name: &str, data: &impl std::fmt::Display) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "event: {name}\ndata: {data}\n\n");
}

/// Decoder state: the bytes of an unfinished line and the event's data so far.
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a leading `\n` of the next one belongs to it.
    after_cr: bool,
    data: Option<String>,
    overflowed: bool,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `chunk`, returning the data of every event it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in chunk {
            if self.overflowed {
                break;
            }
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut events);
                }
                _ if self.line.len() >= MAX_EVENT_BYTES => self.overflow(),
                _ => self.line.push(byte),
            }
        }
        events
    }

    /// Ends the stream: an unterminated last event still counts.
    pub fn finish(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut events);
        }
        events.extend(self.data.take());
        events
    }

    /// `true` once a line or an event passed [`MAX_EVENT_BYTES`]: the decoder
    /// has dropped what it held and decodes nothing more.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    fn overflow(&mut self) {
        self.overflowed = true;
        self.line = Vec::new();
        self.data = None;
    }

    fn end_line(&mut self, events: &mut Vec<String>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            events.extend(self.data.take());
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        if field == "data" {
            let held = self.data.as_ref().map_or(0, |d| d.len() + 1);
            if held + value.len() > MAX_EVENT_BYTES {
                return self.overflow();
            }
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(input: &[u8], at: usize) -> Vec<String> {
        let mut d = SseDecoder::new();
        let mut out = d.push(&input[..at]);
        out.extend(d.push(&input[at..]));
        out.extend(d.finish());
        out
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let input = b": comment\r\nevent: x\r\ndata: {\"a\":1}\r\n\r\ndata:no-space\n\ndata: two\ndata: lines\r\rid: 7\ndata: [DONE]\n\n";
        let want = ["{\"a\":1}", "no-space", "two\nlines", "[DONE]"];
        for at in 0..=input.len() {
            assert_eq!(decode_split(input, at), want, "split at {at}");
        }
    }

    #[test]
    fn byte_by_byte_and_unterminated_tail() {
        let input = b"data: a\n\ndata: b";
        let mut d = SseDecoder::new();
        let mut out: Vec<String> = input.iter().flat_map(|b| d.push(&[*b])).collect();
        out.extend(d.finish());
        assert_eq!(out, ["a", "b"]);
    }

    #[test]
    fn a_line_or_an_event_past_the_cap_stops_the_decoder() {
        let mut d = SseDecoder::new();
        assert_eq!(d.push(b"data: ok\n\n"), ["ok"]);
        let big = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert!(d.push(b"data: ").is_empty());
        assert!(d.push(&big).is_empty());
        assert!(d.overflowed());
        assert!(d.push(b"\n\ndata: later\n\n").is_empty(), "nothing after an overflow");
        assert!(d.finish().is_empty());
        assert!(d.line.capacity() == 0 && d.data.is_none(), "memory released");

        let mut d = SseDecoder::new();
        let line = format!("data: {}\n", "y".repeat(MAX_EVENT_BYTES / 2));
        assert!(d.push(line.as_bytes()).is_empty());
        assert!(d.push(line.as_bytes()).is_empty());
        assert!(d.overflowed(), "many data lines of one event add up");
    }

    #[test]
    fn empty_data_and_non_utf8_do_not_break() {
        let mut d = SseDecoder::new();
        assert_eq!(d.push(b"data:\n\ndata: \xff\n\n"), ["", "\u{fffd}"]);
    }
}
