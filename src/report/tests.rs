use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::point::{MAX_BLOB_BYTES, MAX_BLOBS, MAX_DOUBLES};
use super::{AepipeCall, Recorder};
use crate::plan::{Mode, RouteInfo};
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
        unavailable_tools: String::new(),
    });
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/event-stream"));
    headers.insert("cf-aig-cache-status", HeaderValue::from_static("HIT"));
    headers.insert("set-cookie", HeaderValue::from_static("s=2"));
    r.response_head(StatusCode::OK, &mut headers, 12.5);
    for chunk in RESPONSE {
        r.response_chunk(chunk);
    }
    r.finish(&cfg(), 40.0, 0).calls
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
    r.response_head(StatusCode::OK, &mut HeaderMap::new(), 1.0);
    r.response_chunk(&big);
    let calls = r.finish(&cfg(), 2.0, 0).calls;
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
    let error = crate::errors::ProxyError::Unauthorized("no".into());
    let mut headers = HeaderMap::new();
    r.response_head(StatusCode::UNAUTHORIZED, &mut headers, 0.5);
    r.response_chunk(&error.body_bytes(&crate::translate::anthropic::ERRORS));
    assert_eq!(headers[super::REQUEST_ID_HEADER], "r");
    let calls = r.finish(&cfg(), 0.7, 0).calls;
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
    assert!(off.finish(&config(&[]), 1.0, 0).calls.is_empty());
}

#[test]
fn a_client_that_hangs_up_is_not_an_upstream_error() {
    let h = head("POST", "/v1/chat/completions?key=AIzaSECRET", &[("authorization", "Bearer gw-secret")]);
    let ended = |side: Option<super::Side>| {
        let mut r = Recorder::new(&cfg(), &h, "r");
        r.response_head(StatusCode::OK, &mut HeaderMap::new(), 1.0);
        r.response_chunk(b"data: {}\n\n");
        if let Some(side) = side {
            r.failed(side, "went away");
        }
        let finished = r.finish(&cfg(), 2.0, 0);
        (
            body(&finished.calls[0])["points"][0]["level"].clone(),
            body(&finished.calls[1])["logs"][0].clone(),
            finished.log.unwrap(),
        )
    };
    let (level, raw, line) = ended(Some(super::Side::Client));
    assert_eq!((level, raw["failed_side"].clone()), (json!("info"), json!("client")));
    assert!(line.ends_with(" failed=client: went away"), "{line}");
    assert!(!line.contains("AIzaSECRET") && !line.contains("gw-secret") && !line.contains('?'), "{line}");
    let (level, raw, _) = ended(Some(super::Side::Upstream));
    assert_eq!((level, raw["failed_side"].clone()), (json!("error"), json!("upstream")));
    let (level, raw, _) = ended(None);
    assert_eq!((level, raw["failed_side"].clone()), (json!("info"), json!("")));
}

#[test]
fn the_first_side_to_fail_is_the_one_said() {
    let mut r = Recorder::new(&config(&[]), &head("GET", "/v1/models", &[]), "r");
    r.failed(super::Side::Client, "hung up");
    r.failed(super::Side::Upstream, "later");
    r.response_head(StatusCode::OK, &mut HeaderMap::new(), 1.0);
    let line = r.finish(&config(&[]), 2.0, 0).log.unwrap();
    assert!(line.ends_with("failed=client: hung up"), "{line}");
}

#[test]
fn a_report_not_taken_is_one_line() {
    use crate::failure::{FailureKind, UpstreamFailure};
    let url = "http://127.0.0.1:9/v1/apex-ai-proxy/raw/log";
    assert_eq!(super::delivery(url, Ok(StatusCode::OK)), None);
    assert_eq!(
        super::delivery(url, Ok(StatusCode::INTERNAL_SERVER_ERROR)).unwrap(),
        format!("apex-ai-proxy: aepipe report to {url} answered 500 Internal Server Error")
    );
    let denied = super::delivery(url, Err(UpstreamFailure::new(FailureKind::Denied, "x"))).unwrap();
    assert!(
        denied.ends_with("(on Spin, add \"http://127.0.0.1:9\" to allowed_outbound_hosts in spin.toml)"),
        "{denied}"
    );
}
