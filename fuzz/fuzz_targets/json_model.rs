//! The JSON body reader and `model` rewriter: a rewritten body is valid JSON
//! that differs from the original in `model` alone.
#![no_main]
use apex_ai_proxy::json::body::JsonBody;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = JsonBody::parse(data.to_vec()) else { return };
    let Ok(before) = serde_json::from_slice::<Value>(data) else { return };
    let had_model = body.model().is_some();
    let out = body.with_model("new/model\"\u{e9}");
    let mut after: Value = serde_json::from_slice(&out).expect("still JSON");
    if had_model {
        assert_eq!(after["model"], "new/model\"\u{e9}");
        after["model"] = before["model"].clone();
    }
    assert_eq!(after, before);
});
