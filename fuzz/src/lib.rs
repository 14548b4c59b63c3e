//! What the fuzz targets share.

/// `out` with every made-up id blanked: the 32 hex digits after a `_` that the
/// proxy puts in ids (`msg_…`, `resp_…`, `rs_…_0`) when the upstream sent none
/// differ from run to run.
pub fn without_made_up_ids(out: &[u8]) -> Vec<u8> {
    let mut result = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        result.push(out[i]);
        let made_up =
            out[i] == b'_' && out.get(i + 1..i + 33).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        i += if made_up { 33 } else { 1 };
    }
    result
}

/// The check both stream translators share: `data`'s first byte picks a split
/// point and whether the stream fails; the output must be the same whole and
/// split (made-up ids aside), and every block an `event: X` line and a JSON
/// `data` line whose `type` is X. Gives the blocks' JSON, in order, for the
/// target's own checks.
pub fn check_event_stream(
    data: &[u8],
    translate: impl Fn(&[&[u8]], bool) -> Vec<u8>,
) -> Vec<serde_json::Value> {
    let (control, data) = data.split_first().unwrap_or((&0, &[]));
    let at = usize::from(*control) % (data.len() + 1);
    let fail = control & 1 == 1;
    let whole = translate(&[data], fail);
    assert_eq!(
        without_made_up_ids(&translate(&[&data[..at], &data[at..]], fail)),
        without_made_up_ids(&whole)
    );
    let text = std::str::from_utf8(&whole).expect("UTF-8 out");
    text.split_terminator("\n\n")
        .map(|block| {
            let (event, data) = block.split_once('\n').expect("two lines");
            let value: serde_json::Value =
                serde_json::from_str(data.strip_prefix("data: ").expect("data line")).expect("JSON");
            assert_eq!(value["type"], event.strip_prefix("event: ").expect("event line"));
            value
        })
        .collect()
}
