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
