use serde_json::{Value, json};

use crate::config::Config;
use crate::test_support::{body_bytes, config, head, reply_json, run};

const TOKEN: &str = "gw-secret";

fn cfg() -> Config {
    config(&[
        ("ACCOUNT_ID", "acc"),
        ("GATEWAY_ID", "gw"),
        ("GATEWAY_TOKEN", TOKEN),
        ("GATEWAY_BASE_URL", "http://127.0.0.1:9/v1"),
        ("AZURE_RESOURCE", "res"),
    ])
}

fn post(path: &str, extra: &[(&str, &str)]) -> http::request::Parts {
    let mut headers = vec![("authorization", "Bearer gw-secret"), ("content-type", "application/json")];
    headers.extend_from_slice(extra);
    head("POST", path, &headers)
}

fn status(c: &Config, h: &http::request::Parts, body: &str) -> u16 {
    match run(c, h, body.as_bytes()) {
        Ok(_) => 200,
        Err(reply) => reply.status().as_u16(),
    }
}

#[test]
fn routes_chat_and_rewrites_only_the_model() {
    let body =
        r#"{"model": "gpt-5.5#openai", "messages":[{"role":"user","content":"hi"}], "temperature": 1.0}"#;
    let f = run(&cfg(), &post("/v1/chat/completions", &[]), body.as_bytes()).unwrap();
    assert_eq!(f.request.uri.to_string(), "http://127.0.0.1:9/v1/acc/gw/compat/chat/completions");
    assert_eq!(
        std::str::from_utf8(body_bytes(&f)).unwrap(),
        body.replace("gpt-5.5#openai", "openai/gpt-5.5")
    );
    assert_eq!(f.request.headers["cf-aig-authorization"], "Bearer gw-secret");
    assert_eq!(f.request.headers["content-length"], body_bytes(&f).len().to_string().as_str());
    assert!(f.request.headers.get("authorization").is_none());
    assert_eq!(f.info.model, "gpt-5.5#openai");
    assert_eq!(f.info.upstream_model, "openai/gpt-5.5");
    assert_eq!(f.info.endpoint_type, "chat_completions");
}

#[test]
fn native_anthropic_is_lossless() {
    let body = r#"{"model":"claude-opus-4.7#anthropic","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":1024},"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[]}"#;
    let h = post(
        "/v1/messages",
        &[("anthropic-version", "2023-06-01"), ("anthropic-beta", "x-1"), ("x-api-key", "k")],
    );
    let f = run(&cfg(), &h, body.as_bytes()).unwrap();
    assert_eq!(f.request.uri.to_string(), "http://127.0.0.1:9/v1/acc/gw/anthropic/v1/messages");
    assert_eq!(body_bytes(&f), body.replace("claude-opus-4.7#anthropic", "claude-opus-4.7").as_bytes());
    assert_eq!(f.request.headers["anthropic-version"], "2023-06-01");
    assert_eq!(f.request.headers["anthropic-beta"], "x-1");
    assert!(f.request.headers.get("x-api-key").is_none());
}

#[test]
fn cf_aig_controls_are_forwarded_but_not_their_authorization() {
    let h = post(
        "/v1/chat/completions",
        &[
            ("cf-aig-cache-ttl", "60"),
            ("cf-aig-skip-cache", "true"),
            ("cf-aig-authorization", "Bearer evil"),
            ("anthropic-version", "2023-06-01"),
        ],
    );
    let f = run(&cfg(), &h, br#"{"model":"m#groq"}"#).unwrap();
    assert_eq!(f.request.headers["cf-aig-cache-ttl"], "60");
    assert_eq!(f.request.headers["cf-aig-skip-cache"], "true");
    assert_eq!(
        f.request.headers.get_all("cf-aig-authorization").iter().collect::<Vec<_>>(),
        ["Bearer gw-secret"]
    );
    assert!(
        f.request.headers.get("anthropic-version").is_none(),
        "anthropic headers only on the native route"
    );
}

#[test]
fn mistral_loses_include_usage_only() {
    let body =
        r#"{"model":"mistral-large-latest#mistral","stream":true,"stream_options":{"include_usage":true}}"#;
    let f = run(&cfg(), &post("/v1/chat/completions", &[]), body.as_bytes()).unwrap();
    let sent: Value = serde_json::from_slice(body_bytes(&f)).unwrap();
    assert_eq!(sent, json!({"model":"mistral/mistral-large-latest","stream":true}));
    assert!(f.info.stream);

    let body = r#"{"model":"m#mistral","stream_options":{"include_usage":true,"other":1}}"#;
    let f = run(&cfg(), &post("/v1/chat/completions", &[]), body.as_bytes()).unwrap();
    let sent: Value = serde_json::from_slice(body_bytes(&f)).unwrap();
    assert_eq!(sent, json!({"model":"mistral/m","stream_options":{"other":1}}));

    let body = r#"{"model":"m#openai","stream_options":{"include_usage":true}}"#;
    let f = run(&cfg(), &post("/v1/chat/completions", &[]), body.as_bytes()).unwrap();
    let sent: Value = serde_json::from_slice(body_bytes(&f)).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[test]
fn mapping_picks_the_model_the_gateway_sees() {
    let h = post("/v1/chat/completions", &[("x-apex-ai-proxy-mapping", "claude-opus-4.7#deepseek-v4-pro")]);
    let f = run(&cfg(), &h, br#"{"model":"claude-opus-4.7#deepseek"}"#).unwrap();
    assert_eq!(body_bytes(&f), br#"{"model":"deepseek/deepseek-v4-pro"}"#);
    let h = post("/v1/chat/completions", &[("x-apex-ai-proxy-mapping", "gpt-4o#sonar#perplexity-ai")]);
    let f = run(&cfg(), &h, br#"{"model":"gpt-4o"}"#).unwrap();
    assert!(f.request.uri.path().ends_with("/perplexity-ai/chat/completions"));
    assert_eq!(f.info.model, "gpt-4o");
}

#[test]
fn auth_accepts_either_header_and_fails_closed() {
    let c = cfg();
    let body = r#"{"model":"m#openai"}"#;
    let with = |hs: &[(&str, &str)]| head("POST", "/v1/chat/completions", hs);
    assert_eq!(status(&c, &with(&[("authorization", "Bearer gw-secret")]), body), 200);
    assert_eq!(status(&c, &with(&[("authorization", "bearer  gw-secret ")]), body), 200);
    assert_eq!(status(&c, &with(&[("x-api-key", "gw-secret")]), body), 200);
    assert_eq!(
        status(&c, &with(&[("authorization", "Bearer wrong"), ("x-api-key", "gw-secret")]), body),
        200
    );
    assert_eq!(status(&c, &with(&[]), body), 401);
    assert_eq!(status(&c, &with(&[("authorization", "Bearer wrong")]), body), 401);
    assert_eq!(status(&c, &with(&[("authorization", "gw-secret")]), body), 401);
    assert_eq!(status(&c, &with(&[("x-api-key", "gw-secre")]), body), 401);
    let open = config(&[("ACCOUNT_ID", "a"), ("GATEWAY_ID", "g")]);
    assert_eq!(status(&open, &with(&[("authorization", "Bearer anything")]), body), 421);
    let no_ids = config(&[("GATEWAY_TOKEN", TOKEN)]);
    assert_eq!(status(&no_ids, &with(&[("authorization", "Bearer gw-secret")]), body), 421);
}

#[test]
fn bad_input_statuses_and_dialects() {
    let c = cfg();
    let chat = post("/v1/chat/completions", &[]);
    let messages = post("/v1/messages", &[]);
    for (h, body, want) in [
        (&chat, "not json", 400),
        (&chat, "[1]", 400),
        (&chat, r#"{"messages":[]}"#, 400),
        (&chat, r#"{"model":"gpt-5"}"#, 400),
        (&chat, r#"{"model":"gpt-5#nope"}"#, 400),
        (&chat, r##"{"model":"#openai"}"##, 400),
        (&messages, r#"{"model":"deepseek-v4#deepseek"}"#, 400),
        (&messages, r#"{"model":"deepseek-v4#deepseek","max_tokens":5,"messages":[]}"#, 400),
    ] {
        assert_eq!(status(&c, h, body), want, "{body}");
    }
    let e = run(&c, &messages, b"{").unwrap_err();
    assert_eq!(reply_json(&e)["type"], "error");
    let e = run(&c, &chat, b"{").unwrap_err();
    assert!(reply_json(&e)["error"]["message"].as_str().unwrap().contains("not valid JSON"));
    assert_eq!(status(&c, &post("/v1/embeddings", &[]), "{}"), 404);
    assert_eq!(status(&c, &head("GET", "/v1/chat/completions", &[]), ""), 405);
    let small = config(&[("GATEWAY_TOKEN", TOKEN), ("MAX_BODY_BYTES", "10")]);
    assert_eq!(status(&small, &post("/v1/chat/completions", &[("content-length", "11")]), ""), 413);
}

#[test]
fn local_answers() {
    let c = cfg();
    let e = run(&c, &head("OPTIONS", "/anything", &[]), b"").unwrap_err();
    assert_eq!(e.status(), 204);
    assert_eq!(e.headers()["access-control-allow-origin"], "*");
    let e = run(&c, &head("GET", "/healthz", &[]), b"").unwrap_err();
    let modes = json!({"gateway": true, "passthrough": true, "reporting": false});
    assert_eq!(reply_json(&e), json!({"status": "ok", "version": crate::VERSION, "modes": modes}));
    assert_eq!(e.headers()["x-apex-ai-proxy-version"], crate::VERSION, "on the proxy's own answers");
    let bare = config(&[("AEPIPE_BASE_URL", "https://aepipe.example"), ("AEPIPE_TOKEN", "t")]);
    let e = run(&bare, &head("GET", "/healthz", &[]), b"").unwrap_err();
    assert_eq!(reply_json(&e)["modes"], json!({"gateway": false, "passthrough": true, "reporting": true}));
    assert!(!String::from_utf8_lossy(e.body()).contains("aepipe.example"), "no URL, no secret");
    let e = run(&c, &post("/v1/embeddings", &[]), b"{}").unwrap_err();
    assert_eq!(e.headers()["x-apex-ai-proxy-version"], crate::VERSION, "errors too");
}

#[test]
fn count_tokens_native_or_estimated() {
    let c = cfg();
    let h = post("/v1/messages/count_tokens", &[("anthropic-version", "2023-06-01")]);
    let body = r#"{"model":"claude-x#anthropic","messages":[{"role":"user","content":"hello"}]}"#;
    let f = run(&c, &h, body.as_bytes()).unwrap();
    assert_eq!(f.request.uri.to_string(), "http://127.0.0.1:9/v1/acc/gw/anthropic/v1/messages/count_tokens");
    assert_eq!(body_bytes(&f), body.replace("claude-x#anthropic", "claude-x").as_bytes());
    assert_eq!(f.request.headers["anthropic-version"], "2023-06-01");
    assert_eq!(f.info.endpoint_type, "count_tokens");

    let body = r#"{"model":"deepseek-v4#deepseek","messages":[{"role":"user","content":"hello there!"}]}"#;
    let reply = run(&c, &h, body.as_bytes()).unwrap_err();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["x-apex-ai-proxy-token-count"], "estimate");
    assert_eq!(reply_json(&reply), json!({"input_tokens": 7}));
    let info = reply.extensions().get::<crate::plan::RouteInfo>().unwrap();
    assert_eq!((info.provider.as_str(), info.endpoint_type.as_str()), ("deepseek", "count_tokens"));

    let e = run(&c, &h, br#"{"model":"deepseek-v4#deepseek"}"#).unwrap_err();
    assert_eq!((e.status().as_u16(), reply_json(&e)["type"].clone()), (400, json!("error")));
    let e = run(&c, &post("/v1/messages/count_tokens", &[]), br#"{"model":"x"}"#).unwrap_err();
    assert_eq!(reply_json(&e)["type"], "error", "Anthropic dialect under /v1/messages");
}

#[test]
fn models_list_needs_the_gateway_token() {
    let c = config(&[("GATEWAY_TOKEN", TOKEN), ("GATEWAY_MODELS", "deepseek-v4-pro#deepseek")]);
    let list =
        run(&c, &head("GET", "/v1/models", &[("authorization", "Bearer gw-secret")]), b"").unwrap_err();
    assert_eq!(reply_json(&list)["data"][0]["id"], "deepseek-v4-pro#deepseek");
    let anthropic =
        head("GET", "/v1/models?limit=5", &[("x-api-key", TOKEN), ("anthropic-version", "2023-06-01")]);
    assert_eq!(reply_json(&run(&c, &anthropic, b"").unwrap_err())["data"][0]["type"], "model");
    let denied = run(&c, &head("GET", "/v1/models", &[]), b"").unwrap_err();
    assert_eq!(denied.status(), 401);
    let denied =
        run(&c, &head("GET", "/v1/models", &[("anthropic-version", "2023-06-01")]), b"").unwrap_err();
    assert_eq!(reply_json(&denied)["type"], "error", "Anthropic shape for the Anthropic SDK");
    assert_eq!(status(&c, &post("/v1/models", &[]), ""), 405);
}

#[test]
fn a_target_that_is_not_a_path_is_refused() {
    let h = head("GET", "*", &[("x-apex-ai-proxy-provider", "api.example.com")]);
    let e = run(&cfg(), &h, b"").unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(reply_json(&e)["error"]["message"].as_str().unwrap().contains("starting with /"));
}

#[test]
fn responses_native_for_openai_translated_for_others() {
    let c = cfg();
    let h = post("/v1/responses", &[]);
    let body = r#"{"model":"gpt-5.5#openai","input":"hi","store":true,"tools":[{"type":"web_search"}]}"#;
    let f = run(&c, &h, body.as_bytes()).unwrap();
    assert_eq!(f.request.uri.to_string(), "http://127.0.0.1:9/v1/acc/gw/openai/responses");
    assert_eq!(
        body_bytes(&f),
        body.replace("gpt-5.5#openai", "gpt-5.5").as_bytes(),
        "byte for byte but the model"
    );
    assert!(matches!(f.reading, crate::plan::Reading::Gateway));
    assert_eq!(f.info.endpoint_type, "responses");

    let body = r#"{"model":"grok-4#grok","input":"hi","reasoning":{"effort":"high"},"stream":true}"#;
    let f = run(&c, &h, body.as_bytes()).unwrap();
    assert_eq!(f.request.uri.to_string(), "http://127.0.0.1:9/v1/acc/gw/compat/chat/completions");
    let sent: Value = serde_json::from_slice(body_bytes(&f)).unwrap();
    assert_eq!(sent["model"], "grok/grok-4");
    assert_eq!(sent["reasoning_effort"], "high");
    assert!(matches!(f.reading, crate::plan::Reading::Translated(_)));

    let body = r#"{"model":"d#deepseek","input":"hi","reasoning":{"effort":"high"}}"#;
    let sent: Value = serde_json::from_slice(body_bytes(&run(&c, &h, body.as_bytes()).unwrap())).unwrap();
    assert!(sent.get("reasoning_effort").is_none(), "not for providers that reject it");

    let e =
        run(&c, &h, br#"{"model":"d#deepseek","input":"hi","previous_response_id":"resp_1"}"#).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(reply_json(&e)["error"]["message"].as_str().unwrap().starts_with("previous_response_id:"));
    assert_eq!(status(&c, &head("GET", "/v1/responses", &[("authorization", "Bearer gw-secret")]), ""), 405);
}
