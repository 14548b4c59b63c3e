//! The OpenAI → Anthropic stream translator: the same output whole and split,
//! every output event is `event: X` + JSON `data` of type X, never a panic.
#![no_main]
use apex_ai_proxy::translate::anthropic::stream::AnthropicStream;
use apex_ai_proxy_fuzz::without_made_up_ids;
use libfuzzer_sys::fuzz_target;

fn translate(pieces: &[&[u8]], fail: bool) -> Vec<u8> {
    let mut stream = AnthropicStream::new("m#p");
    let mut out: Vec<u8> = pieces.iter().flat_map(|p| stream.push(p)).collect();
    out.extend(if fail { stream.abort("cut") } else { stream.finish() });
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
    for block in text.split_terminator("\n\n") {
        let (event, data) = block.split_once('\n').expect("two lines");
        let name = event.strip_prefix("event: ").expect("event line");
        let value: serde_json::Value =
            serde_json::from_str(data.strip_prefix("data: ").expect("data line")).expect("JSON");
        assert_eq!(value["type"], name);
    }
});
