//! The SSE decoder: the same events whole and split at any point, memory
//! bounded, never a panic.
#![no_main]
use apex_ai_proxy::translate::sse::{MAX_EVENT_BYTES, SseDecoder};
use libfuzzer_sys::fuzz_target;

fn decode(pieces: &[&[u8]]) -> (Vec<String>, bool) {
    let mut d = SseDecoder::new();
    let mut events: Vec<String> = pieces.iter().flat_map(|p| d.push(p)).collect();
    events.extend(d.finish());
    (events, d.overflowed())
}

fuzz_target!(|data: &[u8]| {
    let at = data.first().map_or(0, |b| usize::from(*b) % (data.len() + 1));
    let whole = decode(&[data]);
    assert_eq!(decode(&[&data[..at], &data[at..]]), whole);
    assert!(whole.0.iter().all(|e| e.len() <= MAX_EVENT_BYTES));
});
