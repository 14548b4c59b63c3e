//! The whole core as a host drives it: a request head, its body in chunks, an
//! upstream answer (streamed, read whole, or failing) through the exchange,
//! with reporting on. Never a panic, never a step without end; every answer
//! the proxy makes itself is JSON; the log line (text or JSON) is one line of printable
//! text and the reports are JSON, whatever the client sent.
#![no_main]
use std::sync::Arc;

use apex_ai_proxy::config::Config;
use apex_ai_proxy::exchange::{Action, Event, Exchange};
use apex_ai_proxy::failure::{FailureKind, Stop, UpstreamFailure};
use apex_ai_proxy::plan::Upload;
use apex_ai_proxy::report::access::unsafe_in_log;
use arbitrary::Arbitrary;
use http::StatusCode;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case {
    method: u8,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<Vec<u8>>,
    status: u16,
    upstream_headers: Vec<(String, String)>,
    decoded: bool,
    upstream_chunks: Vec<Vec<u8>>,
    /// 0: the body ends; 1: it fails; 2: it goes silent; 3: the client leaves.
    ending: u8,
}

const PATHS: [&str; 6] = [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/models",
    "/v1/responses",
    "/x",
];

/// The configuration, the access log as text or as JSON lines.
fn config(json_log: bool) -> Arc<Config> {
    Arc::new(Config::from_lookup(|name| {
        Some(
            match name {
                "LOG_FORMAT" if json_log => "json",
                "ACCOUNT_ID" => "a",
                "GATEWAY_ID" => "g",
                "GATEWAY_TOKEN" => "t",
                "GATEWAY_MODELS" => "m#openai,c#anthropic",
                "AEPIPE_BASE_URL" => "https://aepipe.example.com",
                "AEPIPE_TOKEN" => "p",
                "PASSTHROUGH_ALLOW_PRIVATE" => "true",
                "MAX_BODY_BYTES" => "100000",
                _ => return None,
            }
            .to_owned(),
        )
    }))
}

fn map(pairs: &[(String, String)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) =
            (http::HeaderName::try_from(name.as_str()), http::HeaderValue::try_from(value.as_str()))
        {
            map.append(n, v);
        }
    }
    map
}

fuzz_target!(|case: Case| {
    let method = ["GET", "POST", "OPTIONS", "PUT"][usize::from(case.method) % 4];
    let path = match case.path.strip_prefix('!') {
        Some(raw) => raw.to_owned(),
        None => PATHS[case.path.len() % PATHS.len()].to_owned(),
    };
    let Ok(request) = http::Request::builder().method(method).uri(path.as_str()).body(()) else { return };
    let mut head = request.into_parts().0;
    head.headers = map(&case.headers);
    head.headers.insert("authorization", http::HeaderValue::from_static("Bearer t"));
    let mut ex = Exchange::new(config(case.status % 2 == 1), head, 0.0);
    let mut action = ex.start(0.0);
    let (mut body, mut chunks) = (case.body.iter(), case.upstream_chunks.iter());
    let (mut answered, mut upstream_head) = (false, false);
    for step in 0.. {
        assert!(step < 100_000, "an exchange ends");
        let now = f64::from(step);
        action = match action {
            Action::ReadBody { .. } => match body.next() {
                Some(chunk) => ex.on(Event::BodyChunk(chunk), now),
                None => ex.on(Event::BodyEnd, now),
            },
            Action::Send { request, .. } => {
                if matches!(request.body, Upload::Client) {
                    for chunk in body.by_ref() {
                        if !matches!(ex.on(Event::BodyChunk(chunk), now), Action::Upload) {
                            break;
                        }
                    }
                }
                upstream_head = true;
                let status = StatusCode::from_u16(case.status % 500 + 100).unwrap_or(StatusCode::OK);
                let headers = map(&case.upstream_headers);
                ex.on(Event::Head { status, headers, decoded: case.decoded }, now)
            }
            Action::Upload => ex.on(Event::End, now),
            Action::Read { .. } => match (chunks.next(), case.ending % 4) {
                (Some(chunk), _) => ex.on(Event::Chunk(chunk), now),
                (None, 0) => ex.on(Event::End, now),
                (None, 1) => ex.on(Event::Failed(UpstreamFailure::new(FailureKind::Closed, "fuzzed")), now),
                (None, 2) => ex.on(Event::Timeout, now),
                (None, _) => ex.on(Event::ClientGone(Stop::Closed), now),
            },
            Action::Answer { head, body: bytes, end } => {
                if let Some(head) = &head {
                    assert!(!answered, "one head per answer");
                    answered = true;
                    // The proxy's own answers (before any upstream head) are JSON.
                    if !upstream_head && !bytes.is_empty() {
                        serde_json::from_slice::<serde_json::Value>(&bytes).expect("proxy answers are JSON");
                    }
                    let _ = head.status;
                }
                if end.is_some() {
                    break;
                }
                match chunks.next() {
                    Some(chunk) => ex.on(Event::Chunk(chunk), now),
                    None => ex.on(Event::End, now),
                }
            }
        };
    }
    let finished = ex.finish(1e6, 0);
    for call in finished.reports {
        serde_json::from_slice::<serde_json::Value>(&call.body).expect("reports are JSON");
    }
    for line in finished.log {
        let raw: Vec<char> = line.chars().filter(|&c| unsafe_in_log(c)).collect();
        assert!(raw.is_empty(), "no control or format character reaches the log raw: {raw:?} in {line:?}");
    }
});
