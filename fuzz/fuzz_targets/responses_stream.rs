//! The OpenAI chat → Responses stream translator: the same output whole and
//! split, every event carries the next sequence number and its own type.
#![no_main]
use apex_ai_proxy::json::Json;
use apex_ai_proxy::providers::Provider;
use apex_ai_proxy::translate::responses::RESPONSES;
use apex_ai_proxy::translate::stream::Translation;
use apex_ai_proxy::translate::{Dialect, Target};
use apex_ai_proxy_fuzz::check_event_stream;
use libfuzzer_sys::fuzz_target;

const REQUEST: &str = r#"{"input": "x", "tools": [
    {"type": "custom", "name": "apply_patch"},
    {"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "function", "name": "f"}]}]}"#;

fn stream() -> Translation {
    let request = Json::parse(REQUEST).ok().and_then(Json::object).expect("a JSON object");
    let provider = Provider::named("deepseek").expect("a provider");
    let target = Target { model: "m".into(), client_model: "m#p", provider };
    Translation::new(RESPONSES.to_chat(&request, &target).expect("a valid request").1)
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
