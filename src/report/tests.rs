use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::point::{MAX_BLOB_BYTES, MAX_BLOBS, MAX_DOUBLES};
use super::{AepipeCall, Recorder};
use crate::routing::{Mode, RouteInfo};
use crate::test_support::{config, head};

fn cfg() -> crate::Config {
    config(&[("AEPIPE_BASE_URL", "http://aepipe.test/"), ("AEPIPE_TOKEN", "ae-token")])
}

fn body(call: &AepipeCall) -> Value {
    serde_json::from_slice(&call.body).unwrap()
}

const RESPONSE: [&[u8]; 2] = [
    b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":",
    b"{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n",
];

fn gateway_record(model: &str) -> Vec<AepipeCall> {
    let h = head(
        "POST",
        "/v1/chat/completions?key=AIzaSECRET",
        &[
            ("Authorization", "Bearer gw-secret"),
            ("X-Api-Key", "k2"),
            ("Cookie", "c=1"),
            ("content-type", "application/json"),
        ],
    );
    let mut r = Recorder::new(&cfg(), &h, "req-1");
    let request = format!(r#"{{"model":"{model}","stream":true}}"#);
    r.request_chunk(request.as_bytes());
    r.route(&RouteInfo {
        mode: Mode::Gateway,
        provider: "openai".into(),
        model: model.into(),
        upstream_model: format!("openai/{model}"),
        endpoint_type: "chat_completions".into(),
        stream: true,
        upstream_host: "gateway.example".into(),
    });
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/event-stream"));
    headers.insert("cf-aig-cache-status", HeaderValue::from_static("HIT"));
    headers.insert("set-cookie", HeaderValue::from_static("s=2"));
    r.response_head(StatusCode::OK, &headers, 12.5);
    for chunk in RESPONSE {
        r.response_chunk(chunk);
    }
    r.finish(&cfg(), 40.0)
}

#[test]
fn point_fields_in_order() {
    let calls = gateway_record("gpt-5.5");
    assert_eq!(calls[0].url, "http://aepipe.test/v1/apex-ai-proxy/requests/ingest");
    assert_eq!(calls[1].url, "http://aepipe.test/v1/apex-ai-proxy/raw/log");
    for call in &calls {
        assert_eq!(call.headers["authorization"], "Bearer ae-token");
    }
    let point = &body(&calls[0])["points"][0];
    assert_eq!(point["event"], "POST /v1/chat/completions");
    assert_eq!(point["level"], "info");
    assert_eq!(
        point["blobs"],
        json!([
            "openai",
            "gpt-5.5",
            "chat_completions",
            "200",
            "stream",
            "gateway",
            "openai/gpt-5.5",
            "gateway.example",
            "HIT",
            "req-1"
        ])
    );
    let request_bytes = r#"{"model":"gpt-5.5","stream":true}"#.len() as f64;
    let response_bytes = (RESPONSE[0].len() + RESPONSE[1].len()) as f64;
    assert_eq!(point["doubles"], json!([40.0, 200.0, request_bytes, response_bytes, 12.5, 9.0, 3.0]));
}

#[test]
fn raw_entry_is_redacted() {
    let calls = gateway_record("gpt-5.5");
    let raw = &body(&calls[1])["logs"][0];
    assert_eq!(raw["message"], "POST /v1/chat/completions 200 40ms [openai/gpt-5.5]");
    assert_eq!(raw["url"], "/v1/chat/completions?key=[REDACTED]");
    assert_eq!(raw["request_headers"]["authorization"], "[REDACTED]");
    assert_eq!(raw["request_headers"]["x-api-key"], "[REDACTED]");
    assert_eq!(raw["request_headers"]["cookie"], "[REDACTED]");
    assert_eq!(raw["response_headers"]["set-cookie"], "[REDACTED]");
    assert_eq!(raw["request_body"], r#"{"model":"gpt-5.5","stream":true}"#);
    assert_eq!((raw["input_tokens"].as_u64(), raw["output_tokens"].as_u64()), (Some(9), Some(3)));
    let text = String::from_utf8(calls[1].body.clone()).unwrap()
        + &String::from_utf8(calls[0].body.clone()).unwrap();
    for secret in ["gw-secret", "k2\"", "AIzaSECRET", "ae-token", "c=1", "s=2"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}

#[test]
fn limits_hold_with_a_huge_model_name() {
    let calls = gateway_record(&"é".repeat(20_000));
    let point = &body(&calls[0])["points"][0];
    let blobs = point["blobs"].as_array().unwrap();
    assert!(blobs.len() <= MAX_BLOBS);
    assert!(point["doubles"].as_array().unwrap().len() <= MAX_DOUBLES);
    let total: usize = blobs.iter().map(|b| b.as_str().unwrap().len()).sum();
    assert!(total < MAX_BLOB_BYTES, "{total}");
}

#[test]
fn bodies_are_truncated_with_a_marker() {
    let h = head("POST", "/v1/x", &[("x-apex-ai-proxy-provider", "api.example.com")]);
    let mut r = Recorder::new(&cfg(), &h, "r");
    let big = vec![b'a'; super::BODY_CAP + 10];
    r.request_chunk(&big);
    r.response_head(StatusCode::OK, &HeaderMap::new(), 1.0);
    r.response_chunk(&big);
    let calls = r.finish(&cfg(), 2.0);
    let raw = &body(&calls[1])["logs"][0];
    for key in ["request_body", "response_body"] {
        let text = raw[key].as_str().unwrap();
        assert!(text.ends_with("…[truncated]"), "{key}");
        assert_eq!(text.len(), super::BODY_CAP + "…[truncated]".len());
    }
    assert_eq!(raw["request_bytes"], super::BODY_CAP + 10);
    assert_eq!(raw["mode"], "passthrough");
}

#[test]
fn proxy_errors_are_reported_as_errors() {
    let h = head("POST", "/v1/messages", &[]);
    let mut r = Recorder::new(&cfg(), &h, "r");
    let reply = crate::response::error_reply(
        &crate::ProxyError::Unauthorized("no".into()),
        crate::Dialect::Anthropic,
    );
    r.reply(&reply, 0.5);
    let calls = r.finish(&cfg(), 0.7);
    let point = &body(&calls[0])["points"][0];
    assert_eq!(point["level"], "error");
    assert_eq!(point["blobs"][3], "401");
    assert_eq!(point["blobs"][2], "messages");
    assert_eq!(point["blobs"][5], "gateway");
}

#[test]
fn off_when_unconfigured_and_for_preflight_and_health() {
    let h = head("POST", "/v1/chat/completions", &[]);
    assert!(!Recorder::new(&config(&[("AEPIPE_BASE_URL", "http://a")]), &h, "r").is_on());
    assert!(!Recorder::new(&config(&[("AEPIPE_TOKEN", "t")]), &h, "r").is_on());
    assert!(Recorder::new(&cfg(), &h, "r").is_on());
    assert!(!Recorder::new(&cfg(), &head("OPTIONS", "/v1/chat/completions", &[]), "r").is_on());
    assert!(!Recorder::new(&cfg(), &head("GET", "/healthz", &[]), "r").is_on());
    let off = Recorder::new(&config(&[]), &h, "r");
    assert!(off.finish(&config(&[]), 1.0).is_empty());
}
