//! The OpenAI chat → Responses stream translator: the same output whole and
//! split, every event carries the next sequence number and its own type.
#![no_main]
use apex_ai_proxy::translate::responses::request::{ChatOptions, to_chat};
use apex_ai_proxy::translate::responses::stream::ResponsesStream;
use apex_ai_proxy_fuzz::check_event_stream;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn stream() -> ResponsesStream {
    let request = json!({"input": "x", "tools": [
        {"type": "custom", "name": "apply_patch"},
        {"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "function", "name": "f"}]}]});
    let options = ChatOptions { include_usage: true, reasoning_effort: false };
    ResponsesStream::new(to_chat(&request, "m", "m#p", options).expect("a valid request").1)
}

fn translate(pieces: &[&[u8]], fail: bool) -> Vec<u8> {
    let mut s = stream();
    let mut out: Vec<u8> = pieces.iter().flat_map(|p| s.push(p)).collect();
    out.extend(if fail { s.abort("cut") } else { s.finish() });
    out
}

fuzz_target!(|data: &[u8]| {
    for (n, event) in check_event_stream(data, translate).iter().enumerate() {
        assert_eq!(event["sequence_number"], n as u64);
    }
});
