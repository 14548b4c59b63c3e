//! Recorded-shape OpenAI SSE transcripts through the streaming translator:
//! identical output at every split point, valid Anthropic event order, and the
//! expected events (tests/fixtures/openai_sse/README.md).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use apex_ai_proxy::json::Json;
use apex_ai_proxy::providers::Provider;
use apex_ai_proxy::translate::anthropic::answer::MessageAnswer;
use apex_ai_proxy::translate::gemini::Framing;
use apex_ai_proxy::translate::gemini::answer::GeminiAnswer;
use apex_ai_proxy::translate::responses::RESPONSES;
use apex_ai_proxy::translate::sse::SseDecoder;
use apex_ai_proxy::translate::stream::Translation;
use apex_ai_proxy::translate::{Dialect, Target};
use serde_json::{Value, json};

const MODEL: &str = "gpt-5.5#openai";

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openai_sse");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sse"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "fixtures missing");
    files
}

/// `pieces` through a translation, in order, then its end.
fn run(mut stream: Translation, pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        out.extend(stream.push(piece));
    }
    out.extend(stream.finish());
    out
}

fn translate(pieces: &[&[u8]]) -> Vec<u8> {
    run(Translation::new(Box::new(MessageAnswer::new(MODEL))), pieces)
}

/// The output as `{"event", "data"}` values, checking each event's framing.
fn events(output: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(output).unwrap();
    assert!(text.ends_with("\n\n"));
    text.trim_end()
        .split("\n\n")
        .map(|block| {
            let (event, data) = block.split_once('\n').unwrap();
            let name = event.strip_prefix("event: ").unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name, "event name matches its data type");
            json!({"event": name, "data": data})
        })
        .collect()
}

/// The Anthropic stream grammar: message_start first; blocks get indices 0, 1,
/// 2… in start order; deltas only to open blocks; every block stopped once, before
/// message_delta; message_delta then message_stop last, or an error event last.
fn check_grammar(name: &str, events: &[Value]) {
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    if kinds.last() == Some(&"error") {
        assert!(kinds[..kinds.len() - 1].iter().all(|k| *k != "message_stop"), "{name}");
    } else {
        assert_eq!(kinds[0], "message_start", "{name}");
        assert_eq!(&kinds[kinds.len() - 2..], ["message_delta", "message_stop"], "{name}");
    }
    let (mut started, mut open) = (0u64, BTreeSet::new());
    let mut tool_input: std::collections::BTreeMap<u64, String> = Default::default();
    for e in events {
        let index = e["data"]["index"].as_u64();
        match e["event"].as_str().unwrap() {
            "content_block_start" => {
                assert_eq!(index, Some(started), "{name}: indices increase from 0");
                open.insert(started);
                if e["data"]["content_block"]["type"] == "tool_use" {
                    tool_input.insert(started, String::new());
                }
                started += 1;
            }
            "content_block_delta" => {
                assert!(open.contains(&index.unwrap()), "{name}: delta to an open block");
                if let Some(json) = e["data"]["delta"]["partial_json"].as_str() {
                    tool_input.get_mut(&index.unwrap()).unwrap().push_str(json);
                }
            }
            "content_block_stop" => {
                assert!(open.remove(&index.unwrap()), "{name}: stop once");
                if let Some(input) = tool_input.get(&index.unwrap()).filter(|i| !i.is_empty()) {
                    let value: Value =
                        serde_json::from_str(input).unwrap_or_else(|e| panic!("{name}: {input}: {e}"));
                    assert!(value.is_object(), "{name}: a tool's input is one JSON object");
                }
            }
            "message_delta" => assert!(open.is_empty(), "{name}: blocks stopped before message_delta"),
            _ => {}
        }
    }
}

/// Runs every fixture through a translator whole, split at every byte and byte
/// by byte (the same output each time), checks the events' grammar, and
/// compares them with `<fixture>.<extension>` (rewritten with UPDATE_FIXTURES=1).
fn every_fixture(
    translate: fn(&[&[u8]]) -> Vec<u8>,
    parse: fn(&[u8]) -> Vec<Value>,
    grammar: fn(&str, &[Value]),
    extension: &str,
) {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read(&path).unwrap();
        let whole = translate(&[&input]);
        for at in 0..=input.len() {
            assert_eq!(translate(&[&input[..at], &input[at..]]), whole, "{name} split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(translate(&bytes), whole, "{name} byte by byte");

        let events = parse(&whole);
        grammar(&name, &events);
        let expected_path = path.with_extension(extension);
        let lines: Vec<String> = events.iter().map(Value::to_string).collect();
        if update {
            std::fs::write(&expected_path, lines.join("\n") + "\n").unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        let expected: Vec<Value> = expected.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(events, expected, "{name}");
    }
}

#[test]
fn every_fixture_at_every_split() {
    every_fixture(translate, events, check_grammar, "expected.jsonl");
}

#[test]
fn sse_decoder_agrees_on_every_fixture_split() {
    for path in fixtures() {
        let input = std::fs::read(&path).unwrap();
        let decode = |pieces: &[&[u8]]| {
            let mut d = SseDecoder::new();
            let mut out: Vec<String> = pieces.iter().flat_map(|p| d.push(p)).collect();
            out.extend(d.finish());
            out
        };
        let whole = decode(&[&input]);
        for at in 0..=input.len() {
            assert_eq!(decode(&[&input[..at], &input[at..]]), whole);
        }
    }
}

/// The Responses translator's context for the fixtures: a request offering a
/// custom tool and a namespaced function.
fn responses_stream() -> Translation {
    let request = json!({"input": "x", "tools": [
        {"type": "custom", "name": "apply_patch", "description": "Edit files"},
        {"type": "namespace", "name": "multi_agent_v1", "description": "Agents",
         "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}]},
        {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    ]})
    .to_string();
    let request = Json::parse(&request).unwrap().object().unwrap();
    let target =
        Target { model: "m".into(), client_model: MODEL, provider: Provider::named("deepseek").unwrap() };
    let (_, answer) = RESPONSES.to_chat(&request, &target).unwrap();
    Translation::new(answer)
}

fn translate_responses(pieces: &[&[u8]]) -> Vec<u8> {
    run(responses_stream(), pieces)
}

/// The Responses output as data values, checking each event's framing.
fn responses_events(output: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(output).unwrap();
    text.trim_end()
        .split("\n\n")
        .map(|block| {
            let (event, data) = block.split_once('\n').unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], event.strip_prefix("event: ").unwrap(), "event name matches its type");
            data
        })
        .collect()
}

/// The Responses stream grammar (see tests/fixtures/openai_sse/README.md).
fn check_responses_grammar(name: &str, events: &[Value]) {
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[..2], ["response.created", "response.in_progress"], "{name}");
    for (n, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], n as u64, "{name}: sequence numbers from 0, no gaps");
    }
    let last = *kinds.last().unwrap();
    assert!(
        matches!(last, "response.completed" | "response.incomplete" | "response.failed"),
        "{name}: {last}"
    );
    let failed = last == "response.failed";
    let mut added: Vec<Value> = Vec::new();
    let mut text: Vec<String> = Vec::new();
    let mut done: std::collections::BTreeMap<usize, Value> = Default::default();
    for e in events {
        let index = e["output_index"].as_u64().map(|i| i as usize);
        match e["type"].as_str().unwrap() {
            "response.output_item.added" => {
                assert_eq!(index, Some(added.len()), "{name}: output indices increase from 0");
                added.push(e["item"].clone());
                text.push(String::new());
            }
            "response.output_item.done" => {
                let i = index.unwrap();
                assert!(done.insert(i, e["item"].clone()).is_none(), "{name}: done once");
                assert_eq!(e["item"]["id"], added[i]["id"], "{name}: same item");
                let item = &e["item"];
                let whole = match item["type"].as_str().unwrap() {
                    "message" => item["content"][0]["text"].clone(),
                    "reasoning" => item["content"][0]["text"].clone(),
                    "function_call" => item["arguments"].clone(),
                    "custom_tool_call" => item["input"].clone(),
                    other => panic!("{name}: item type {other}"),
                };
                assert_eq!(whole, text[i], "{name}: the deltas add up to the item");
            }
            kind if kind.ends_with(".delta") => {
                let i = index.unwrap();
                assert!(!done.contains_key(&i), "{name}: delta to an open item");
                assert_eq!(e["item_id"], added[i]["id"], "{name}: delta names its item");
                text[i].push_str(e["delta"].as_str().unwrap());
            }
            _ => {}
        }
    }
    if !failed {
        assert_eq!(done.len(), added.len(), "{name}: every added item is done");
        let output: Vec<Value> = done.into_values().collect();
        assert_eq!(
            events.last().unwrap()["response"]["output"],
            Value::Array(output),
            "{name}: final output"
        );
    }
}

#[test]
fn every_fixture_through_the_responses_translator() {
    every_fixture(translate_responses, responses_events, check_responses_grammar, "responses.jsonl");
}

fn translate_gemini(pieces: &[&[u8]]) -> Vec<u8> {
    run(Translation::new(Box::new(GeminiAnswer::new(MODEL, Framing::Events))), pieces)
}

/// Gemini's server-sent events: `data: {…}` blocks, no event names.
fn gemini_events(output: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(output).unwrap();
    text.split_terminator("\r\n\r\n")
        .map(|block| serde_json::from_str(block.strip_prefix("data: ").unwrap()).unwrap())
        .collect()
}

/// Every event is a response with one candidate, or Google's error (then
/// nothing follows); the finish reason comes once, on the last; a function
/// call's arguments are an object.
fn check_gemini_grammar(name: &str, events: &[Value]) {
    let last = events.len().saturating_sub(1);
    for (i, event) in events.iter().enumerate() {
        if event.get("error").is_some() {
            assert_eq!(i, last, "{name}: nothing after an error");
            assert!(event["error"]["status"].is_string(), "{name}: {event}");
            continue;
        }
        let candidates = event["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 1, "{name}: one candidate");
        assert_eq!(candidates[0]["finishReason"].is_string(), i == last, "{name}: the finish reason ends it");
        for part in candidates[0]["content"]["parts"].as_array().unwrap() {
            if let Some(call) = part.get("functionCall") {
                assert!(call["args"].is_object(), "{name}: {part}");
            }
        }
    }
    assert!(!events.is_empty(), "{name}: an answer or an error");
}

#[test]
fn every_fixture_through_the_gemini_translator() {
    every_fixture(translate_gemini, gemini_events, check_gemini_grammar, "gemini.jsonl");
}
