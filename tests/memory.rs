//! The core's memory per request, counted: a request body of small items
//! (the shape that costs a parser most) goes through the exchange as a host
//! feeds it, and the peak of the heap while it does, over the heap before,
//! is held to a small multiple of the body on every path that reads one
//! (docs/security.md, "Memory is bounded"). Counted by a global allocator, so
//! the figure is exact and the same on every machine; the host's own buffers
//! come on top (scripts/bench-memory.sh measures both).

// A global allocator is unsafe to implement; it only counts and forwards to the system one.
#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use apex_ai_proxy::config::Config;
use apex_ai_proxy::exchange::{Action, Event, Exchange};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The bound the docs state for the core: the body itself included.
const FACTOR: f64 = 4.0;
const SIZE: usize = 8 * 1024 * 1024;

fn config() -> Arc<Config> {
    let size = (SIZE + 4096).to_string();
    Arc::new(Config::from_lookup(|name| {
        let value = match name {
            "ACCOUNT_ID" => "a",
            "GATEWAY_ID" => "g",
            "GATEWAY_TOKEN" => "t",
            "PASSTHROUGH_ALLOW_PRIVATE" => "true",
            "MAX_BODY_BYTES" => &size,
            "LOG_LEVEL" => "off",
            _ => return None,
        };
        Some(value.to_owned())
    }))
}

/// `{fields…, "<key>": [item, item, …]}` of about `size` bytes.
fn body(fields: &str, key: &str, item: &str, size: usize) -> Vec<u8> {
    let head = format!("{{{fields},\"{key}\":[");
    let count = (size - head.len()) / (item.len() + 1);
    let mut out = Vec::with_capacity(size + 16);
    out.extend_from_slice(head.as_bytes());
    for i in 0..count {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item.as_bytes());
    }
    out.extend_from_slice(b"]}");
    out
}

/// The peak heap over the start while the exchange takes `body` in 64 KiB
/// chunks up to the upstream request, as a multiple of the body.
fn peak(path: &str, headers: &[(&str, &str)], body: &[u8]) -> f64 {
    let mut builder = http::Request::builder().method("POST").uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let head = builder
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let mut ex = Exchange::new(config(), head, 0.0);
    let base = NOW.load(Relaxed);
    PEAK.store(base, Relaxed);
    let mut action = ex.start(0.0);
    let mut chunks = body.chunks(64 * 1024);
    loop {
        action = match action {
            Action::ReadBody { .. } | Action::Upload => match chunks.next() {
                Some(chunk) => ex.on(Event::BodyChunk(chunk), 0.0),
                None => ex.on(Event::BodyEnd, 0.0),
            },
            Action::Send { request, .. } => {
                // A streamed upload: the host hands each chunk over and sends it.
                if matches!(request.body, apex_ai_proxy::plan::Upload::Client) {
                    let mut next = ex.on(Event::BodyChunk(chunks.next().unwrap_or_default()), 0.0);
                    while matches!(next, Action::Upload) {
                        next = match chunks.next() {
                            Some(chunk) => ex.on(Event::BodyChunk(chunk), 0.0),
                            None => break,
                        };
                    }
                }
                break;
            }
            Action::Answer { .. } => break, // answered locally (count_tokens)
            Action::Read { .. } => break,
        };
    }
    let peak = PEAK.load(Relaxed) - base;
    drop(ex);
    peak as f64 / body.len() as f64
}

/// A path: its name, the request path, headers, the body's fields and the key of its list.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn the_core_holds_a_small_multiple_of_the_body() {
    let gateway = [("authorization", "Bearer t")];
    let anthropic = [("x-api-key", "t"), ("anthropic-version", "2023-06-01")];
    let passthrough =
        [("x-apex-ai-proxy-provider", "http://127.0.0.1:9"), ("x-apex-ai-proxy-mapping", "m#n")];
    let item = r#"{"role":"user","content":"x"}"#;
    let cases: [Case; 7] = [
        (
            "chat completions, gateway",
            "/v1/chat/completions",
            &gateway,
            r#""model":"m#deepseek""#,
            "messages",
        ),
        (
            "messages, native",
            "/v1/messages",
            &anthropic,
            r#""model":"m#anthropic","max_tokens":5"#,
            "messages",
        ),
        (
            "messages, translated",
            "/v1/messages",
            &anthropic,
            r#""model":"m#deepseek","max_tokens":5"#,
            "messages",
        ),
        (
            "count_tokens, estimated",
            "/v1/messages/count_tokens",
            &anthropic,
            r#""model":"m#deepseek""#,
            "messages",
        ),
        ("responses, native", "/v1/responses", &gateway, r#""model":"m#openai""#, "input"),
        ("responses, translated", "/v1/responses", &gateway, r#""model":"m#deepseek""#, "input"),
        ("passthrough, mapped", "/v1/chat/completions", &passthrough, r#""model":"m""#, "messages"),
    ];
    let mut over = Vec::new();
    for (name, path, headers, fields, key) in cases {
        let factor = peak(path, headers, &body(fields, key, item, SIZE));
        println!("{name:28} peak heap {factor:.2}× the body");
        if factor > FACTOR {
            over.push(format!("{name}: {factor:.2}×"));
        }
    }
    assert!(over.is_empty(), "over {FACTOR}× the body: {over:?}");
}
