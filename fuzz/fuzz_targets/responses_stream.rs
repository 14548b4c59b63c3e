//! The OpenAI chat → Responses stream translator: the same output whole and
//! split, every event carries the next sequence number and its own type.
#![no_main]
use apex_ai_proxy::translate::responses::request::{ChatOptions, to_chat};
use apex_ai_proxy::translate::responses::stream::ResponsesStream;
use apex_ai_proxy_fuzz::without_made_up_ids;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

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
    let (control, data) = data.split_first().unwrap_or((&0, &[]));
    let at = usize::from(*control) % (data.len() + 1);
    let fail = control & 1 == 1;
    let whole = translate(&[data], fail);
    // Ids made up when the upstream sent none are random: compare without them.
    assert_eq!(
        without_made_up_ids(&translate(&[&data[..at], &data[at..]], fail)),
        without_made_up_ids(&whole)
    );
    let text = std::str::from_utf8(&whole).expect("UTF-8 out");
    for (n, block) in text.split_terminator("\n\n").enumerate() {
        let (event, data) = block.split_once('\n').expect("two lines");
        let value: Value =
            serde_json::from_str(data.strip_prefix("data: ").expect("data line")).expect("JSON");
        assert_eq!(value["type"], event.strip_prefix("event: ").expect("event line"));
        assert_eq!(value["sequence_number"], n as u64);
    }
});
