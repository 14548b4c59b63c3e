//! The whole core, as a host drives it: a request head and body through
//! `plan`, then an upstream answer through the response side (streamed or read
//! whole), with reporting on. Never a panic; every proxy answer is JSON.
#![no_main]
use apex_ai_proxy::config::Config;
use apex_ai_proxy::relay::Relay;
use apex_ai_proxy::report::Recorder;
use apex_ai_proxy::response::Answer;
use apex_ai_proxy::routing::{Step, plan};
use arbitrary::Arbitrary;
use http::StatusCode;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case {
    method: u8,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    status: u16,
    upstream_headers: Vec<(String, String)>,
    upstream_chunks: Vec<Vec<u8>>,
    upstream_fails: bool,
}

const PATHS: [&str; 6] = [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/models",
    "/v1/responses",
    "/x",
];

fn config() -> Config {
    Config::from_lookup(|name| {
        Some(
            match name {
                "ACCOUNT_ID" => "a",
                "GATEWAY_ID" => "g",
                "GATEWAY_TOKEN" => "t",
                "GATEWAY_MODELS" => "m#openai,c#anthropic",
                "AEPIPE_BASE_URL" => "https://aepipe.example.com",
                "AEPIPE_TOKEN" => "p",
                _ => return None,
            }
            .to_owned(),
        )
    })
}

fuzz_target!(|case: Case| {
    let cfg = config();
    let method = ["GET", "POST", "OPTIONS", "PUT"][usize::from(case.method) % 4];
    let path = match case.path.strip_prefix('!') {
        Some(raw) => raw.to_owned(),
        None => PATHS[case.path.len() % PATHS.len()].to_owned(),
    };
    let mut builder = http::Request::builder().method(method).uri(path.as_str());
    for (name, value) in &case.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder = builder.header("authorization", "Bearer t");
    let Ok(request) = builder.body(()) else { return };
    let head = request.into_parts().0;
    let mut record = Recorder::new(&cfg, &head, "r");
    let forward = match plan(&cfg, &head) {
        Step::Respond(reply) => return check_reply(reply, record, &cfg),
        Step::Forward(forward) => *forward,
        Step::NeedBody(need) => match need.with_body(&cfg, case.body.clone()) {
            Ok(forward) => forward,
            Err(reply) => return check_reply(reply, record, &cfg),
        },
    };
    record.route(&forward.exchange.info);
    let status = StatusCode::from_u16(case.status % 500 + 100).unwrap_or(StatusCode::OK);
    let mut upstream = http::HeaderMap::new();
    for (name, value) in &case.upstream_headers {
        if let (Ok(n), Ok(v)) =
            (http::HeaderName::try_from(name.as_str()), http::HeaderValue::try_from(value.as_str()))
        {
            upstream.append(n, v);
        }
    }
    match forward.exchange.on_response(status, &upstream) {
        Answer::Buffer(mut whole) => {
            for chunk in &case.upstream_chunks {
                if !whole.push(chunk) {
                    break;
                }
            }
            let reply = if case.upstream_fails { whole.fail() } else { whole.finish() };
            check_reply(reply, record, &cfg);
        }
        Answer::Stream(mut start) => {
            record.response_head(start.status, &mut start.headers, 1.0);
            let mut relay = Relay::new(start, record);
            for chunk in &case.upstream_chunks {
                let _ = relay.chunk(chunk);
                if relay.is_broken() {
                    break;
                }
            }
            let (_, record) = if case.upstream_fails { relay.fail("fuzzed failure") } else { relay.end() };
            check_finished(record, &cfg);
        }
    }
});

fn check_reply(mut reply: http::Response<Vec<u8>>, mut record: Recorder, cfg: &Config) {
    if !reply.body().is_empty() {
        serde_json::from_slice::<serde_json::Value>(reply.body()).expect("proxy answers are JSON");
    }
    record.reply(&mut reply, 1.0);
    check_finished(record, cfg);
}

/// Reports are JSON; the access-log line is one line of printable text,
/// whatever the client put in its model or path.
fn check_finished(record: Recorder, cfg: &Config) {
    let finished = record.finish(cfg, 2.0, 0);
    for call in finished.calls {
        serde_json::from_slice::<serde_json::Value>(&call.body).expect("reports are JSON");
    }
    if let Some(line) = finished.log {
        assert!(!line.chars().any(char::is_control), "a log line has no control character: {line:?}");
    }
}
