//! Reasoning round trip (docs/translation.md, "Reasoning carried back"): a
//! recorded-shape chat stream with `reasoning_content` goes to the client in
//! its dialect; the client's next request holds that turn as the client
//! assembled it from the events (Messages `thinking` block, Responses
//! `reasoning` item, Gemini's `thoughtSignature` on the call, thoughts
//! dropped as Gemini CLI does) and a tool result; translated for DeepSeek, the
//! assistant turn carries the streamed reasoning back as `reasoning_content`,
//! for a provider without the rule it does not.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use apex_ai_proxy::json::Json;
use apex_ai_proxy::providers::Provider;
use apex_ai_proxy::translate::anthropic::MESSAGES;
use apex_ai_proxy::translate::gemini::STREAM;
use apex_ai_proxy::translate::responses::RESPONSES;
use apex_ai_proxy::translate::stream::Translation;
use apex_ai_proxy::translate::{Dialect, Target};
use serde_json::{Value, json};

const FIXTURES: [&str; 2] = ["reasoning", "reasoning_then_tool"];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/openai_sse/{name}.sse")))
        .unwrap()
}

/// The `data:` values of a server-sent event stream (`[DONE]` and comments left out).
fn data(stream: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stream)
        .lines()
        .filter_map(|line| line.trim_end_matches('\r').strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str(data).ok())
        .collect()
}

/// What the upstream streamed as reasoning.
fn streamed_reasoning(sse: &[u8]) -> String {
    data(sse).iter().filter_map(|chunk| chunk["choices"][0]["delta"]["reasoning_content"].as_str()).collect()
}

fn target(provider: &str) -> Target<'static> {
    Target { model: "m".into(), client_model: "m#p", provider: Provider::named(provider).unwrap() }
}

/// The client's request (`body`) for `provider`, as the chat body sent upstream.
fn upstream_body(dialect: &dyn Dialect, body: &Value, provider: &str) -> Value {
    let text = body.to_string();
    let request = Json::parse(&text).unwrap().object().unwrap();
    let target = target(provider);
    let (chat, _) = dialect.to_chat(&request, &target).unwrap();
    serde_json::to_value(chat.for_provider(&target.provider.quirks)).unwrap()
}

/// The client's answer: `sse` through `dialect`'s stream for a request `body`.
fn client_stream(dialect: &dyn Dialect, body: &Value, sse: &[u8]) -> Vec<Value> {
    let text = body.to_string();
    let request = Json::parse(&text).unwrap().object().unwrap();
    let (_, answer) = dialect.to_chat(&request, &target("deepseek")).unwrap();
    let mut stream = Translation::new(answer);
    let mut out = stream.push(sse);
    out.extend(stream.finish());
    data(&out)
}

/// Checks the upstream body's last assistant turn: the reasoning back for
/// DeepSeek, none for OpenAI; the calls as streamed.
fn check(name: &str, dialect: &dyn Dialect, next: &Value, sse: &[u8]) {
    let assistant = |provider| {
        let body = upstream_body(dialect, next, provider);
        body["messages"].as_array().unwrap().iter().rfind(|m| m["role"] == "assistant").cloned().unwrap()
    };
    let reasoning = streamed_reasoning(sse);
    assert!(!reasoning.is_empty(), "{name}");
    let deepseek = assistant("deepseek");
    assert_eq!(deepseek["reasoning_content"], reasoning, "{name}: carried back");
    assert!(assistant("openai").get("reasoning_content").is_none(), "{name}: not sent where not wanted");
    let ids = |calls: &Value| -> Vec<Value> {
        calls.as_array().into_iter().flatten().filter_map(|c| c.get("id").cloned()).collect()
    };
    let streamed_calls: Vec<Value> =
        data(sse).iter().flat_map(|c| ids(&c["choices"][0]["delta"]["tool_calls"])).collect();
    let sent = ids(&deepseek["tool_calls"]);
    assert_eq!(sent, streamed_calls, "{name}: the same calls");
}

/// A Messages client (the Anthropic SDK's accumulation): blocks by index from
/// their start, deltas appended, tool input parsed at the end.
fn messages_turn(events: &[Value]) -> Vec<Value> {
    let mut blocks: Vec<Value> = Vec::new();
    let mut json_input: Vec<String> = Vec::new();
    for event in events {
        let index = event["index"].as_u64().unwrap_or(0) as usize;
        match event["type"].as_str().unwrap() {
            "content_block_start" => {
                blocks.push(event["content_block"].clone());
                json_input.push(String::new());
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                let block = &mut blocks[index];
                match delta["type"].as_str().unwrap() {
                    "thinking_delta" => append(block, "thinking", &delta["thinking"]),
                    "text_delta" => append(block, "text", &delta["text"]),
                    "signature_delta" => append(block, "signature", &delta["signature"]),
                    "input_json_delta" => json_input[index].push_str(delta["partial_json"].as_str().unwrap()),
                    other => panic!("delta {other}"),
                }
            }
            "content_block_stop" if !json_input[index].is_empty() => {
                blocks[index]["input"] = serde_json::from_str(&json_input[index]).unwrap();
            }
            _ => {}
        }
    }
    blocks
}

fn append(block: &mut Value, key: &str, text: &Value) {
    let whole = format!("{}{}", block[key].as_str().unwrap_or(""), text.as_str().unwrap());
    block[key] = Value::String(whole);
}

#[test]
fn messages_thinking_goes_back_as_reasoning_content() {
    for name in FIXTURES {
        let sse = fixture(name);
        let first = json!({"model": "m#p", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]});
        let content = messages_turn(&client_stream(&MESSAGES, &first, &sse));
        let results: Vec<Value> = content
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| json!({"type": "tool_result", "tool_use_id": b["id"], "content": "18 °C"}))
            .collect();
        let reply = if results.is_empty() { json!("Thanks") } else { Value::Array(results) };
        let mut next = first.clone();
        next["messages"] = json!([first["messages"][0], {"role": "assistant", "content": content},
                                  {"role": "user", "content": reply}]);
        check(name, &MESSAGES, &next, &sse);
    }
}

#[test]
fn responses_reasoning_items_go_back_as_reasoning_content() {
    for name in FIXTURES {
        let sse = fixture(name);
        let first = json!({"model": "m#p", "stream": true, "store": false,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]}],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]});
        // Codex keeps each finished output item and sends them back as input.
        let items: Vec<Value> = client_stream(&RESPONSES, &first, &sse)
            .into_iter()
            .filter(|e| e["type"] == "response.output_item.done")
            .map(|e| e["item"].clone())
            .collect();
        assert!(items.iter().any(|i| i["type"] == "reasoning"), "{name}");
        let outputs = items
            .iter()
            .filter(|i| i["type"] == "function_call")
            .map(|i| json!({"type": "function_call_output", "call_id": i["call_id"], "output": "18 °C"}));
        let mut input = first["input"].as_array().unwrap().clone();
        input.extend(items.iter().cloned().chain(outputs));
        let mut next = first.clone();
        next["input"] = Value::Array(input);
        check(name, &RESPONSES, &next, &sse);
    }
}

#[test]
fn gemini_signatures_go_back_as_reasoning_content() {
    // Only a turn with a call has a part to sign.
    let name = "reasoning_then_tool";
    let sse = fixture(name);
    let first = json!({"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}],
        "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "object"}}]}]});
    // Gemini CLI's history: the model's parts without thoughts, signatures kept.
    let parts: Vec<Value> = client_stream(&STREAM, &first, &sse)
        .iter()
        .flat_map(|e| e["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["thought"] != true)
        .collect();
    assert!(parts.iter().any(|p| p["thoughtSignature"].is_string()), "{parts:?}");
    let response = json!({"functionResponse": {"name": "get_weather", "response": {"temp": 18}}});
    let mut next = first.clone();
    next["contents"] = json!([first["contents"][0], {"role": "model", "parts": parts},
                              {"role": "user", "parts": [response]}]);
    let assistant = |provider| {
        let body = upstream_body(&STREAM, &next, provider);
        body["messages"].as_array().unwrap().iter().rfind(|m| m["role"] == "assistant").cloned().unwrap()
    };
    assert_eq!(assistant("deepseek")["reasoning_content"], streamed_reasoning(&sse), "{name}: carried back");
    assert!(assistant("openai").get("reasoning_content").is_none(), "{name}: not sent where not wanted");
}
