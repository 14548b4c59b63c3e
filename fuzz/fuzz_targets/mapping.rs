//! `X-APEX-AI-PROXY-MAPPING`: never a panic; a mapped model keeps the
//! request's `#provider` suffix.
#![no_main]
use apex_ai_proxy::mapping::ModelMapping;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (header, model) = text.split_once('\n').unwrap_or((text, ""));
    if let Some(mapped) = ModelMapping::parse(header).apply(model)
        && let Some((_, provider)) = model.split_once('#')
    {
        assert!(mapped.ends_with(&format!("#{provider}")));
    }
});
