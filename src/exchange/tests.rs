use std::sync::Arc;

use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::{Action, End, Event, Exchange};
use crate::failure::{FailureKind, Stop, UpstreamFailure};
use crate::plan::Upload;
use crate::test_support::{config, head};

const TOKEN: &str = "gw-secret";

fn cfg(extra: &[(&str, &str)]) -> Arc<crate::Config> {
    let mut pairs = vec![
        ("ACCOUNT_ID", "acc"),
        ("GATEWAY_ID", "gw"),
        ("GATEWAY_TOKEN", TOKEN),
        ("GATEWAY_BASE_URL", "http://127.0.0.1:9/v1"),
        ("PASSTHROUGH_ALLOW_PRIVATE", "true"),
        ("MAX_BODY_BYTES", "100"),
        ("UPSTREAM_IDLE_TIMEOUT_MS", "1500"),
    ];
    pairs.extend_from_slice(extra);
    Arc::new(config(&pairs))
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
}

/// A gateway chat request, sent: the exchange and the `Send` it returned.
fn sent(path: &str, body: &str) -> (Exchange, Action) {
    let h = head("POST", path, &[("authorization", "Bearer gw-secret")]);
    let mut ex = Exchange::new(cfg(&[]), h, 0.0);
    assert!(matches!(ex.start(0.0), Action::ReadBody { limit: 100 }));
    assert!(matches!(ex.on(Event::BodyChunk(body.as_bytes()), 1.0), Action::ReadBody { .. }));
    let send = ex.on(Event::BodyEnd, 1.0);
    (ex, send)
}

fn chat() -> Exchange {
    sent("/v1/chat/completions", r#"{"model":"m#deepseek"}"#).0
}

fn head_event(status: u16, pairs: &[(&'static str, &'static str)]) -> Event<'static> {
    Event::Head { status: StatusCode::from_u16(status).unwrap(), headers: headers(pairs), decoded: false }
}

/// An answer with a head: status, headers, first bytes, length, and whether it is complete.
fn respond(action: Action) -> (StatusCode, HeaderMap, Vec<u8>, Option<u64>, bool) {
    match action {
        Action::Answer { head: Some(head), body, end } => {
            (head.status, head.headers, body, head.length, end == Some(End::Complete))
        }
        other => panic!("expected an answer with a head, got {other:?}"),
    }
}

/// Bytes for the client, and how the answer ends (no head).
fn more(action: Action) -> (Vec<u8>, Option<End>) {
    match action {
        Action::Answer { head: None, body, end } => (body, end),
        other => panic!("expected bytes, got {other:?}"),
    }
}

fn json_body(action: Action) -> (u16, Value) {
    let (status, _, body, _, complete) = respond(action);
    assert!(complete);
    (status.as_u16(), serde_json::from_slice(&body).unwrap())
}

fn log(ex: Exchange) -> String {
    ex.finish(10.0, 0).log.join("\n")
}

#[test]
fn preflight_and_health_are_answered_at_once() {
    let mut ex = Exchange::new(cfg(&[]), head("OPTIONS", "/v1/chat/completions", &[]), 0.0);
    let (status, headers, body, _, complete) = respond(ex.start(0.0));
    assert_eq!((status.as_u16(), body.len(), complete), (204, 0, true));
    assert!(headers.get("x-apex-ai-proxy-mode").is_none(), "not a routed answer");
    let mut ex = Exchange::new(cfg(&[]), head("GET", "/healthz", &[]), 0.0);
    assert_eq!(json_body(ex.start(0.0)).1["status"], "ok");
}

#[test]
fn a_small_answer_of_declared_length_goes_out_whole() {
    let (mut ex, send) = sent("/v1/chat/completions", r#"{"model":"m#deepseek"}"#);
    let Action::Send { request, timeouts } = send else { panic!("sends") };
    assert_eq!(request.uri.to_string(), "http://127.0.0.1:9/v1/acc/gw/compat/chat/completions");
    assert!(matches!(request.body, Upload::Bytes(ref b) if b.starts_with(br#"{"model":"deepseek/m"}"#)));
    assert_eq!(timeouts.head().as_millis(), 310_000, "connect + first byte");
    let read = ex.on(head_event(200, &[("content-length", "4"), ("cf-aig-cache-status", "HIT")]), 2.0);
    assert!(matches!(read, Action::Read { whole: true, .. }), "{read:?}");
    let (status, headers, body, length, complete) = respond(ex.on(Event::Last(b"{}ok"), 3.0));
    assert_eq!((status.as_u16(), body.as_slice(), length, complete), (200, &b"{}ok"[..], Some(4), true));
    assert_eq!(headers["x-apex-ai-proxy-mode"], "gateway");
    assert_eq!(headers["x-apex-ai-proxy-upstream"], "127.0.0.1:9");
    assert_eq!(headers["cf-aig-cache-status"], "HIT");
    assert!(headers.contains_key("x-apex-ai-proxy-request-id"));
    let line = log(ex);
    assert!(
        line.contains(" POST /v1/chat/completions 200 gateway deepseek m#deepseek->deepseek/m "),
        "{line}"
    );
    assert!(line.contains("ttfb=3.0ms total=10.0ms in=22B out=4B"), "{line}");
}

#[test]
fn a_streamed_answer_waits_for_its_first_bytes_then_streams() {
    let mut ex = chat();
    ex.on(head_event(200, &[("content-type", "text/event-stream")]), 2.0);
    let (_, _, first, length, complete) = respond(ex.on(Event::Chunk(b"data: 1\n\n"), 3.0));
    assert_eq!((first.as_slice(), length, complete), (&b"data: 1\n\n"[..], None, false));
    assert_eq!(more(ex.on(Event::Chunk(b"data: 2\n\n"), 4.0)), (b"data: 2\n\n".to_vec(), None));
    assert_eq!(more(ex.on(Event::End, 5.0)), (Vec::new(), Some(End::Complete)));
    assert!(log(ex).contains("out=18B"));
}

#[test]
fn a_declared_length_is_verified_to_the_last_byte() {
    let mut exact = chat();
    exact.on(head_event(200, &[("content-length", "5")]), 0.0);
    assert_eq!(respond(exact.on(Event::Chunk(b"ab"), 0.0)).2, b"ab");
    assert_eq!(more(exact.on(Event::Chunk(b"cde"), 0.0)), (b"cd".to_vec(), None));
    assert_eq!(more(exact.on(Event::End, 0.0)), (b"e".to_vec(), Some(End::Complete)));

    let mut shorter = chat();
    shorter.on(head_event(200, &[("content-length", "10")]), 0.0);
    respond(shorter.on(Event::Chunk(b"abc"), 0.0));
    assert_eq!(more(shorter.on(Event::End, 0.0)), (Vec::new(), Some(End::Cut)));
    assert!(
        log(shorter).contains("failed=upstream: the upstream body ended after 3 of its 10 declared bytes")
    );

    let mut longer = chat();
    longer.on(head_event(200, &[("content-length", "3")]), 0.0);
    respond(longer.on(Event::Chunk(b"ab"), 0.0));
    assert_eq!(more(longer.on(Event::Chunk(b"cd"), 0.0)).1, Some(End::Cut));

    let mut too_long_at_once = chat();
    too_long_at_once.on(head_event(200, &[("content-length", "2")]), 0.0);
    let (status, ..) = respond(too_long_at_once.on(Event::Chunk(b"abc"), 0.0));
    assert_eq!(status, 502, "already longer than declared: an answer, not a head and a cut");

    let mut empty_but_declared = chat();
    empty_but_declared.on(head_event(200, &[("content-length", "2")]), 0.0);
    assert_eq!(json_body(empty_but_declared.on(Event::End, 0.0)).0, 502);
}

#[test]
fn no_answer_is_a_502_or_504_in_the_clients_dialect() {
    let (mut ex, _) = sent(
        "/v1/messages",
        r#"{"model":"m#deepseek","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#,
    );
    let refused = UpstreamFailure::new(FailureKind::Refused, "ECONNREFUSED");
    let (status, body) = json_body(ex.on(Event::Failed(refused), 2.0));
    assert_eq!((status, body["type"].clone()), (502, json!("error")));
    assert!(!body.to_string().contains("ECONNREFUSED"), "the runtime's words stay in the log");
    assert!(log(ex).contains("failed=upstream: upstream 127.0.0.1:9 refused the connection"));

    let mut late = chat();
    let (status, body) = json_body(late.on(Event::Timeout, 2.0));
    assert_eq!(status, 504);
    assert!(body["error"]["message"].as_str().unwrap().contains("UPSTREAM_FIRST_BYTE_TIMEOUT_MS"));
}

#[test]
fn an_upstream_that_fails_mid_answer() {
    let mut before = chat();
    before.on(head_event(200, &[]), 0.0);
    let (status, ..) = respond(before.on(Event::Timeout, 0.0));
    assert_eq!(status, 502, "before the first byte: an answer");
    assert!(log(before).contains("before its first byte: silent for more than 1500 ms"));

    let mut plain = chat();
    plain.on(head_event(200, &[]), 0.0);
    respond(plain.on(Event::Chunk(b"ab"), 0.0));
    let reset = UpstreamFailure::new(FailureKind::Closed, "reset");
    assert_eq!(more(plain.on(Event::Failed(reset), 0.0)).1, Some(End::Cut), "a plain body is cut");

    let body =
        r#"{"model":"m#deepseek","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}"#;
    let (mut translated, _) = sent("/v1/messages", body);
    translated.on(head_event(200, &[("content-type", "text/event-stream")]), 0.0);
    let first = b"data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n";
    let (_, headers, bytes, _, _) = respond(translated.on(Event::Chunk(first), 0.0));
    assert_eq!(headers["content-type"], "text/event-stream");
    assert!(bytes.starts_with(b"event: message_start"));
    let (end, how) = more(translated.on(Event::Timeout, 0.0));
    assert_eq!(how, Some(End::Complete), "a translated stream ends with its error event");
    assert!(String::from_utf8(end).unwrap().starts_with("event: error\n"));
}

#[test]
fn error_bodies_are_read_whole_and_reshaped() {
    let body = r#"{"model":"m#deepseek","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#;
    let (mut ex, _) = sent("/v1/messages", body);
    assert!(matches!(ex.on(head_event(429, &[("retry-after", "3")]), 0.0), Action::Read { .. }));
    assert!(matches!(ex.on(Event::Chunk(br#"{"error":{"message":"slow"#), 0.0), Action::Read { .. }));
    let (status, headers, body, _, _) = respond(ex.on(Event::Last(br#" down"}}"#), 0.0));
    assert_eq!((status.as_u16(), headers["retry-after"].to_str().unwrap()), (429, "3"));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}));
}

#[test]
fn the_clients_body_is_gathered_within_the_limit() {
    let h = head("POST", "/v1/chat/completions", &[("authorization", "Bearer gw-secret")]);
    let mut ex = Exchange::new(cfg(&[]), h, 0.0);
    ex.start(0.0);
    assert!(matches!(ex.on(Event::BodyChunk(&[b' '; 60]), 0.0), Action::ReadBody { limit: 100 }));
    let (status, ..) = respond(ex.on(Event::BodyChunk(&[b' '; 41]), 0.0));
    assert_eq!(status, 413);
}

#[test]
fn the_clients_body_streams_to_passthrough_within_the_limit() {
    let h = head("POST", "/v1/x", &[("x-apex-ai-proxy-provider", "http://127.0.0.1:9")]);
    let mut ex = Exchange::new(cfg(&[]), h, 0.0);
    assert!(matches!(ex.start(0.0), Action::Send { request, .. } if matches!(request.body, Upload::Client)));
    assert!(matches!(ex.on(Event::BodyChunk(&[b'a'; 60]), 0.0), Action::Upload));
    let (status, headers, ..) = respond(ex.on(Event::BodyChunk(&[b'b'; 41]), 0.0));
    assert_eq!((status.as_u16(), headers["x-apex-ai-proxy-mode"].to_str().unwrap()), (413, "passthrough"));
    assert!(log(ex).contains("in=101B"));

    let h = head("POST", "/v1/x", &[("x-apex-ai-proxy-provider", "http://127.0.0.1:9")]);
    let mut broken = Exchange::new(cfg(&[]), h, 0.0);
    broken.start(0.0);
    assert_eq!(json_body(broken.on(Event::BodyFailed(Stop::Closed), 0.0)).0, 400);
    assert!(log(broken).contains("failed=client: the request body could not be read: the connection closed"));
}

#[test]
fn a_client_that_leaves_ends_the_exchange() {
    let mut ex = chat();
    ex.on(head_event(200, &[]), 0.0);
    respond(ex.on(Event::Chunk(b"ab"), 0.0));
    assert_eq!(more(ex.on(Event::ClientGone(Stop::Closed), 0.0)), (Vec::new(), Some(End::Cut)));
    let line = log(ex);
    assert!(line.contains("failed=client: the client went away: the connection closed"), "{line}");
}

#[test]
fn a_decoded_body_is_held_until_its_end_or_a_mebibyte() {
    let mut ex = chat();
    let decoded = Event::Head { status: StatusCode::OK, headers: HeaderMap::new(), decoded: true };
    assert!(matches!(ex.on(decoded, 0.0), Action::Read { whole: false, .. }));
    assert!(matches!(ex.on(Event::Chunk(b"ab"), 0.0), Action::Read { .. }), "held");
    let (_, _, body, _, complete) = respond(ex.on(Event::End, 0.0));
    assert_eq!((body.as_slice(), complete), (&b"ab"[..], true));

    let mut cut = chat();
    cut.on(Event::Head { status: StatusCode::OK, headers: HeaderMap::new(), decoded: true }, 0.0);
    cut.on(Event::Chunk(b"ab"), 0.0);
    let reset = UpstreamFailure::new(FailureKind::Closed, "reset");
    assert_eq!(json_body(cut.on(Event::Failed(reset), 0.0)).0, 502, "a cut decoded body is a 502");
}

#[test]
fn steps_out_of_order_are_a_502_never_a_hang() {
    let mut ex = chat();
    assert_eq!(json_body(ex.on(Event::Chunk(b"x"), 0.0)).0, 502);
    assert!(log(ex).contains("the host took its steps out of order"));
}

#[test]
fn the_runtimes_words_reach_the_debug_log_only() {
    let debug_cfg = cfg(&[("LOG_LEVEL", "debug")]);
    let h = head("POST", "/v1/chat/completions", &[("authorization", "Bearer gw-secret")]);
    let mut ex = Exchange::new(debug_cfg, h, 0.0);
    ex.start(0.0);
    ex.on(Event::BodyChunk(br#"{"model":"m#deepseek"}"#), 0.0);
    ex.on(Event::BodyEnd, 0.0);
    ex.on(Event::Failed(UpstreamFailure::new(FailureKind::Tls, "TlsAlertReceived(40)")), 0.0);
    let lines = ex.finish(1.0, 0).log;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], "apex-ai-proxy: upstream: tls: TlsAlertReceived(40)");
    let mut quiet = chat();
    quiet.on(Event::Failed(UpstreamFailure::new(FailureKind::Tls, "TlsAlertReceived(40)")), 0.0);
    assert!(!log(quiet).contains("TlsAlertReceived"));
}

#[test]
fn a_host_may_refuse_what_it_cannot_carry() {
    let h = head("POST", "/v1/messages", &[]);
    let mut ex = Exchange::new(cfg(&[]), h, 0.0);
    let (status, body) = json_body(ex.refuse(&crate::errors::ProxyError::BadRequest("header x".into()), 0.0));
    assert_eq!((status, body["type"].clone()), (400, json!("error")), "in the client's dialect");
}

/// A Messages request on `model` with `chain` as its fallback header, sent.
fn with_fallback(model: &str, chain: &'static str, extra: &[(&str, &str)]) -> (Exchange, Action) {
    let h = head(
        "POST",
        "/v1/messages",
        &[
            ("x-api-key", "gw-secret"),
            ("anthropic-version", "2023-06-01"),
            ("x-apex-ai-proxy-fallback", chain),
        ],
    );
    let mut ex = Exchange::new(
        cfg(&[("MAX_BODY_BYTES", "1000"), ("LOG_LEVEL", "info")]
            .iter()
            .chain(extra)
            .copied()
            .collect::<Vec<_>>()),
        h,
        0.0,
    );
    ex.start(0.0);
    let body =
        format!(r#"{{"model":"{model}","max_tokens":5,"messages":[{{"role":"user","content":"hi"}}]}}"#);
    ex.on(Event::BodyChunk(body.as_bytes()), 1.0);
    let send = ex.on(Event::BodyEnd, 1.0);
    (ex, send)
}

fn sent_to(action: &Action) -> (String, Value) {
    match action {
        Action::Send { request, .. } => match &request.body {
            Upload::Bytes(bytes) => (request.uri.to_string(), serde_json::from_slice(bytes).unwrap()),
            Upload::Client => panic!("a planned body"),
        },
        other => panic!("expected a send, got {other:?}"),
    }
}

#[test]
fn a_refused_model_falls_back_across_dialects_and_says_so() {
    let (mut ex, first) = with_fallback("claude-opus-4.7#anthropic", "deepseek-v4-pro#deepseek", &[]);
    let (url, body) = sent_to(&first);
    assert!(url.ends_with("/anthropic/v1/messages"), "native first: {url}");
    assert_eq!(body["model"], "claude-opus-4.7");
    let second = ex.on(head_event(529, &[("content-type", "application/json")]), 5.0);
    let (url, body) = sent_to(&second);
    assert!(url.ends_with("/compat/chat/completions"), "then translated: {url}");
    assert_eq!(
        (body["model"].clone(), body["messages"][0]["content"].clone()),
        (json!("deepseek/deepseek-v4-pro"), json!("hi"))
    );
    let completion = br#"{"id":"c","choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    let read = ex.on(head_event(200, &[("content-type", "application/json")]), 9.0);
    assert!(matches!(read, Action::Read { .. }));
    let (status, headers, body, _, _) = respond(ex.on(Event::Last(completion), 9.5));
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (answer["type"].clone(), answer["content"][0]["text"].clone()),
        (json!("message"), json!("ok")),
        "in the client's dialect"
    );
    assert_eq!(headers["x-apex-ai-proxy-attempts"], "2");
    assert_eq!(headers["x-apex-ai-proxy-model"], "deepseek-v4-pro#deepseek");
    let line = log(ex);
    assert!(line.contains("attempts=claude-opus-4.7#anthropic:529,deepseek-v4-pro#deepseek:200"), "{line}");
}

#[test]
fn what_does_not_move_on_and_what_does() {
    // A 400: the request itself is wrong; the client gets that answer.
    let (mut ex, _) = with_fallback("m#deepseek", "n#groq", &[]);
    let decided = ex.on(head_event(400, &[("content-type", "application/json")]), 2.0);
    assert!(matches!(decided, Action::Read { .. }), "read and answered, no second send");
    // No connection, then a timeout: the next models; the last failure is the client's.
    let (mut ex, _) = with_fallback("m#deepseek", "n#groq,o#openai", &[]);
    let refused = UpstreamFailure::new(FailureKind::Refused, "refused");
    assert!(matches!(ex.on(Event::Failed(refused), 2.0), Action::Send { .. }));
    assert!(matches!(ex.on(Event::Timeout, 3.0), Action::Send { .. }));
    assert!(
        matches!(ex.on(head_event(503, &[]), 4.0), Action::Read { .. }),
        "the last answer is the client's"
    );
    let (status, headers, ..) = respond(ex.on(Event::End, 4.5));
    assert_eq!(
        (status, &headers["x-apex-ai-proxy-attempts"]),
        (StatusCode::SERVICE_UNAVAILABLE, &HeaderValue::from(3))
    );
    // No chain time left: the answer is the one there is.
    let (mut ex, _) = with_fallback("m#deepseek", "n#groq", &[("GATEWAY_ATTEMPTS_TIMEOUT_MS", "1")]);
    assert!(matches!(ex.on(head_event(429, &[]), 5.0), Action::Read { .. }));
    // An unknown provider in the chain: 400 before anything is sent.
    let (_, refused) = with_fallback("m#deepseek", "n#nope", &[]);
    assert_eq!(json_body(refused).0, 400);
}
