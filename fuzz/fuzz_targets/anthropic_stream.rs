//! The OpenAI → Anthropic stream translator: the same output whole and split,
//! every output event is `event: X` + JSON `data` of type X, never a panic.
#![no_main]
use apex_ai_proxy::translate::anthropic::answer::MessageAnswer;
use apex_ai_proxy::translate::stream::Translation;
use apex_ai_proxy_fuzz::check_event_stream;
use libfuzzer_sys::fuzz_target;

fn translate(pieces: &[&[u8]], fail: bool) -> Vec<u8> {
    let mut stream = Translation::new(Box::new(MessageAnswer::new("m#p")));
    let mut out: Vec<u8> = pieces.iter().flat_map(|p| stream.push(p)).collect();
    out.extend(if fail { stream.abort("cut") } else { stream.finish() });
    out
}

fuzz_target!(|data: &[u8]| {
    check_event_stream(data, translate);
});
