use crate::config::Config;
use crate::plan::Upload;
use crate::test_support::{body_bytes, config, head, run};

fn private() -> Config {
    config(&[("PASSTHROUGH_ALLOW_PRIVATE", "true")])
}

#[test]
fn streams_unchanged_without_mapping() {
    let h = head(
        "POST",
        "/v1/responses?x=1&y=%20",
        &[
            ("x-apex-ai-proxy-provider", "zenmux.ai/api"),
            ("x-apex-ai-proxy-type", "chat-completions"),
            ("authorization", "Bearer upstream-key"),
            ("x-api-key", "k2"),
            ("cf-aig-authorization", "Bearer nope"),
            ("host", "proxy.local"),
            ("connection", "keep-alive"),
            ("content-length", "12"),
            ("accept", "text/event-stream"),
        ],
    );
    let f = run(&config(&[]), &h, b"").unwrap();
    assert_eq!(f.request.uri.to_string(), "https://zenmux.ai/api/v1/responses?x=1&y=%20");
    assert!(matches!(f.request.body, Upload::Client));
    let names: Vec<&str> = f.request.headers.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["authorization", "x-api-key", "accept", "content-length"]);
    assert_eq!(f.request.headers["content-length"], "12");
    assert_eq!(f.request.headers["authorization"], "Bearer upstream-key");
    assert_eq!(f.info.upstream_host, "zenmux.ai");
}

#[test]
fn mapping_changes_only_the_model() {
    let body = br#"{ "model" : "claude-opus-4.7", "max_tokens": 1e3 }"#;
    let h = head(
        "POST",
        "/v1/messages",
        &[
            ("x-apex-ai-proxy-provider", "https://zenmux.ai/api/anthropic"),
            ("x-apex-ai-proxy-mapping", "claude-opus-4.7#mimo-v2.5-pro"),
        ],
    );
    let f = run(&config(&[]), &h, body).unwrap();
    assert_eq!(body_bytes(&f), br#"{ "model" : "mimo-v2.5-pro", "max_tokens": 1e3 }"#);
    assert_eq!(f.request.headers["content-length"], body_bytes(&f).len().to_string().as_str());
    assert_eq!(f.info.upstream_model, "mimo-v2.5-pro");

    for untouched in [&b"not json"[..], br#"{"model":"other"}"#, br#"{"model":7}"#, b"[1,2]"] {
        let f = run(&config(&[]), &h, untouched).unwrap();
        assert_eq!(body_bytes(&f), untouched);
    }
}

#[test]
fn refusals() {
    let status = |c: &Config, method: &str, provider: &str| match run(
        c,
        &head(method, "/v1/x", &[("x-apex-ai-proxy-provider", provider)]),
        b"",
    ) {
        Ok(_) => 200,
        Err(reply) => reply.status().as_u16(),
    };
    let public = config(&[]);
    assert_eq!(status(&public, "POST", "127.0.0.1:8080"), 403);
    assert_eq!(status(&public, "POST", "localhost"), 403);
    assert_eq!(status(&public, "POST", "http://api.example.com"), 403);
    assert_eq!(status(&public, "POST", "user@api.example.com"), 400);
    assert_eq!(status(&public, "PUT", "api.example.com"), 405);
    assert_eq!(status(&public, "GET", "api.example.com"), 200);
    assert_eq!(status(&private(), "POST", "http://127.0.0.1:8080"), 200);
    let listed = config(&[("PASSTHROUGH_ALLOWED_HOSTS", "*.example.com")]);
    assert_eq!(status(&listed, "POST", "api.example.com"), 200);
    assert_eq!(status(&listed, "POST", "api.example.org"), 403);
}

#[test]
fn errors_follow_the_type_header_off_dialect_paths() {
    let h = head(
        "POST",
        "/v1/x",
        &[("x-apex-ai-proxy-provider", "localhost"), ("x-apex-ai-proxy-type", "anthropic")],
    );
    let reply = run(&config(&[]), &h, b"").unwrap_err();
    let v: serde_json::Value = serde_json::from_slice(reply.body()).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "permission_error");
}

#[test]
fn non_ascii_provider_header_is_a_bad_request() {
    let mut h = head("POST", "/v1/x", &[]);
    h.headers.insert("x-apex-ai-proxy-provider", http::HeaderValue::from_bytes(b"b\xc3\xbccher.de").unwrap());
    assert_eq!(run(&config(&[]), &h, b"").unwrap_err().status(), 400);
}
