//! The OpenAI → Gemini stream translator: the same output whole and split,
//! every output event a `data:` line of JSON, a response with one candidate
//! or Google's error, never a panic.
#![no_main]
use apex_ai_proxy::translate::gemini::Framing;
use apex_ai_proxy::translate::gemini::answer::GeminiAnswer;
use apex_ai_proxy::translate::stream::Translation;
use libfuzzer_sys::fuzz_target;

fn translate(pieces: &[&[u8]], fail: bool) -> Vec<u8> {
    let mut stream = Translation::new(Box::new(GeminiAnswer::new("m@p", Framing::Events)));
    let mut out: Vec<u8> = pieces.iter().flat_map(|p| stream.push(p)).collect();
    out.extend(if fail { stream.abort("cut") } else { stream.finish() });
    out
}

/// The ids made up where the upstream sent none differ from run to run.
fn without_ids(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.split("\r\n\r\n").map(|e| e.split("\"responseId\"").next().unwrap_or_default()).collect()
}

fuzz_target!(|data: &[u8]| {
    let (control, data) = data.split_first().unwrap_or((&0, &[]));
    let at = usize::from(*control) % (data.len() + 1);
    let fail = control & 1 == 1;
    let whole = translate(&[data], fail);
    assert_eq!(without_ids(&translate(&[&data[..at], &data[at..]], fail)), without_ids(&whole));
    let text = std::str::from_utf8(&whole).expect("UTF-8 out");
    for event in text.split_terminator("\r\n\r\n") {
        let value: serde_json::Value =
            serde_json::from_str(event.strip_prefix("data: ").expect("a data line")).expect("JSON");
        let candidates = value["candidates"].as_array().map_or(0, Vec::len);
        assert!(candidates == 1 || value["error"]["status"].is_string(), "{value}");
    }
});
