use serde_json::{Value, json};

use crate::errors::ProxyError;
use crate::json::Json;
use crate::providers::Provider;
use crate::translate::Target;
use crate::translate::responses::ResponsesContext;

/// The request as a chat request for `model` on `provider` (quirks applied),
/// and its context.
fn to_chat(request: &Value, model: &str, provider: &str) -> Result<(Value, ResponsesContext), ProxyError> {
    let text = request.to_string();
    let object = Json::parse(&text).unwrap().object().unwrap();
    let provider = Provider::named(provider).unwrap();
    let target = Target { model: model.into(), client_model: "deepseek-v4#deepseek", provider };
    let (chat, context) = super::to_chat(&object, &target)?;
    Ok((serde_json::to_value(chat.for_provider(&provider.quirks)).unwrap(), context))
}

/// A provider that takes stream usage but not `reasoning_effort`.
const OPTIONS: &str = "deepseek";

fn translate(request: Value) -> Value {
    to_chat(&request, "deepseek/deepseek-v4", OPTIONS).unwrap().0
}

fn error(request: Value) -> String {
    let e = to_chat(&request, "m", OPTIONS).unwrap_err();
    assert_eq!(e.status().as_u16(), 400);
    e.message()
}

#[test]
fn a_string_input_with_instructions_and_settings() {
    let out = translate(json!({
        "model": "deepseek-v4#deepseek", "input": "hi", "instructions": "Be brief.",
        "max_output_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stream": true,
        "reasoning": {"effort": "high", "summary": "auto"}, "store": false, "metadata": {"k": "v"},
        "safety_identifier": "u-1", "include": ["reasoning.encrypted_content"], "prompt_cache_key": "p",
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": true}}
    }));
    assert_eq!(
        out,
        json!({
            "model": "deepseek/deepseek-v4",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "user": "u-1",
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}},
            "stream": true, "stream_options": {"include_usage": true}
        })
    );
    let with_effort =
        to_chat(&json!({"input": "x", "reasoning": {"effort": "low"}}), "m", "openai").unwrap().0;
    assert_eq!(with_effort["reasoning_effort"], "low");
    assert_eq!(
        translate(json!({"input": "x", "text": {"format": {"type": "json_object"}}}))["response_format"],
        json!({"type": "json_object"})
    );
}

#[test]
fn items_in_order_with_calls_and_their_outputs() {
    let out = translate(json!({"input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Rules."}]},
        {"role": "user", "content": [{"type": "input_text", "text": "Look"}, {"type": "input_image", "image_url": "data:image/png;base64,QQ", "detail": "low"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xxx"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
        {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "message", "role": "user", "content": "mid-turn note"},
        {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
        {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "Done"}]},
        {"type": "web_search_call", "id": "ws", "status": "completed"},
        {"type": "message", "role": "assistant", "content": "ok"}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "system", "content": "Rules."},
            {"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ", "detail": "low"}}]},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{\"cmd\":\"ls\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "a.txt"},
            {"role": "tool", "tool_call_id": "c2", "content": "Done"},
            {"role": "user", "content": "mid-turn note"},
            {"role": "assistant", "content": "ok"}
        ])
    );
}

#[test]
fn function_custom_and_namespace_tools_hosted_ones_dropped() {
    let out = translate(json!({"input": "x", "parallel_tool_calls": false, "tools": [
        {"type": "function", "name": "exec_command", "description": "Run", "strict": false, "parameters": {"type": "object"}},
        {"type": "custom", "name": "apply_patch", "description": "Patch files",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: \"x\""}},
        {"type": "namespace", "name": "multi_agent_v1", "description": "Agents", "tools": [
            {"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}]},
        {"type": "web_search", "external_web_access": false},
        {"type": "file_search", "vector_store_ids": ["v"]}
    ], "tool_choice": "required"}));
    let tools = out["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 3);
    assert_eq!(
        tools[0],
        json!({"type": "function", "function": {"name": "exec_command", "description": "Run", "strict": false, "parameters": {"type": "object"}}})
    );
    assert_eq!(tools[1]["function"]["name"], "apply_patch");
    assert_eq!(tools[1]["function"]["parameters"]["required"], json!(["input"]));
    assert!(tools[1]["function"]["description"].as_str().unwrap().contains("lark grammar"));
    assert_eq!(tools[2]["function"]["name"], "multi_agent_v1__spawn_agent");
    assert_eq!(
        (out["tool_choice"].clone(), out["parallel_tool_calls"].clone()),
        (json!("required"), json!(false))
    );

    let (_, context) = to_chat(&json!({"input": "x", "tools": [
        {"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "custom", "name": "free"}]}]}),
        "m", OPTIONS).unwrap();
    let tool = context.tools.by_chat_name("ns__free");
    assert_eq!((tool.name.as_str(), tool.namespace.as_deref(), tool.custom), ("free", Some("ns"), true));
    assert_eq!(context.echo["tools"].as_array().unwrap().len(), 1, "the request's tools are echoed as sent");
}

#[test]
fn tool_choice_forms() {
    let tools = json!([{"type": "function", "name": "a", "parameters": {}}, {"type": "custom", "name": "b"},
                       {"type": "namespace", "name": "n", "description": "", "tools": [{"type": "function", "name": "c"}]}]);
    let with = |choice: Value| translate(json!({"input": "x", "tools": tools, "tool_choice": choice}));
    assert_eq!(with(json!("none"))["tool_choice"], "none");
    assert_eq!(
        with(json!({"type": "function", "name": "a"}))["tool_choice"],
        json!({"type": "function", "function": {"name": "a"}})
    );
    assert_eq!(
        with(json!({"type": "custom", "name": "b"}))["tool_choice"],
        json!({"type": "function", "function": {"name": "b"}})
    );
    assert_eq!(
        with(json!({"type": "function", "name": "c", "namespace": "n"}))["tool_choice"]["function"]["name"],
        "n__c"
    );
    let allowed = with(
        json!({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "a"}]}),
    );
    assert_eq!(allowed["tools"].as_array().unwrap().len(), 1);
    assert_eq!(allowed["tool_choice"], "required");
    let e = error(json!({"input": "x", "tools": tools, "tool_choice": {"type": "web_search"}}));
    assert!(e.starts_with("tool_choice: the hosted tool \"web_search\""), "{e}");
}

#[test]
fn state_the_proxy_does_not_keep_and_content_it_cannot_carry_are_400s() {
    for (request, field) in [
        (json!({"input": "x", "previous_response_id": "resp_1"}), "previous_response_id:"),
        (json!({"input": "x", "conversation": "conv_1"}), "conversation:"),
        (json!({"input": "x", "prompt": {"id": "pmpt_1"}}), "prompt:"),
        (json!({"input": "x", "background": true}), "background:"),
        (json!({"input": [{"type": "item_reference", "id": "msg_1"}]}), "input.0: item_reference"),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
            "input.0.content.0.type: input_file",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}),
            "input.0.content.0.image_url: required",
        ),
        (json!({"input": [{"role": "bot", "content": "x"}]}), "input.0.role: must be"),
        (json!({"input": []}), "input: at least one"),
        (json!({"input": 5}), "input: must be"),
    ] {
        let e = error(request);
        assert!(e.starts_with(field), "{e}");
    }
}

/// Codex CLI 0.171's own first request (tests/fixtures/codex/first_turn.json).
#[test]
fn codex_requests_translate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codex");
    for name in ["first_turn.json", "after_tool_output.json"] {
        let request: Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        let out = translate(request);
        let roles: Vec<&str> =
            out["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles[0], "system", "{name}: developer messages become system");
        assert!(roles.contains(&"user"), "{name}");
        let names: Vec<&str> = out["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"exec_command") && names.iter().any(|n| n.starts_with("multi_agent_v1__")),
            "{name}: {names:?}"
        );
        assert!(!out.to_string().contains("web_search"), "{name}: hosted tools are not offered");
        for key in ["store", "include", "prompt_cache_key", "client_metadata", "reasoning"] {
            assert!(out.get(key).is_none(), "{name}: {key}");
        }
    }
}

/// `n` tools, `n` calls of them with their outputs, and an `allowed_tools`
/// list of all of them.
fn many_tools(n: usize) -> Value {
    let tools: Vec<Value> = (0..n).map(|i| json!({"type": "function", "name": format!("t{i}")})).collect();
    let mut input = Vec::new();
    for i in 0..n {
        input.push(json!({"type": "function_call", "call_id": format!("c{i}"), "name": format!("t{i}"), "arguments": "{}"}));
        input.push(json!({"type": "function_call_output", "call_id": format!("c{i}"), "output": "ok"}));
    }
    let allowed: Vec<Value> = (0..n).map(|i| json!({"type": "function", "name": format!("t{i}")})).collect();
    json!({"model": "m", "input": input, "tools": tools,
           "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": allowed}})
}

#[test]
fn the_work_grows_with_the_body_not_faster() {
    let growth = crate::test_support::body_growth(many_tools, |object, n| {
        let target = crate::test_support::target("m", "m#deepseek", "deepseek");
        assert_eq!(super::to_chat(object, &target).unwrap().0.tools.len(), n);
    });
    assert!(growth < 30.0, "10× the tools and calls took {growth:.0}× the time");
}

#[test]
fn reasoning_items_go_back_with_their_turn() {
    let request = json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-secret",
         "content": [{"type": "reasoning_text", "text": "List the files."}]},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
    ]});
    let (deepseek, _) = to_chat(&request, "deepseek/m", "deepseek").unwrap();
    let turn = &deepseek["messages"][1];
    assert_eq!(
        (turn["reasoning_content"].clone(), turn["content"].clone()),
        (json!("List the files."), Value::Null)
    );
    assert!(!deepseek.to_string().contains("gAAAA-secret"), "encrypted reasoning never leaves");
    let (openai, _) = to_chat(&request, "openai/m", "openai").unwrap();
    assert!(openai["messages"][1].get("reasoning_content").is_none());
}
