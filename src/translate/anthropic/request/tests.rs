use serde_json::{Value, json};

use crate::errors::ProxyError;
use crate::json::Json;
use crate::providers::Provider;
use crate::translate::Target;

/// The request as a chat request for `model` on `provider`, quirks applied.
fn to_openai(request: &Value, model: &str, provider: &str) -> Result<Value, ProxyError> {
    let text = request.to_string();
    let object = Json::parse(&text).unwrap().object().unwrap();
    let provider = Provider::named(provider).unwrap();
    let target = Target { model: model.into(), client_model: "client#model", provider };
    let chat = super::to_chat(&object, &target)?.for_provider(&provider.quirks);
    Ok(serde_json::to_value(chat).unwrap())
}

const STREAM_USAGE: &str = "openai";
const NO_STREAM_USAGE: &str = "mistral";

/// The system note for tools the provider cannot be given.
fn note(tools: &[&str]) -> String {
    let tools: Vec<std::borrow::Cow<str>> = tools.iter().map(|t| (*t).into()).collect();
    super::unavailable_note(&tools)
}

fn translate(request: Value) -> Value {
    to_openai(&request, "openai/gpt-5.5", STREAM_USAGE).unwrap()
}

#[test]
fn full_conversation_with_tools_and_images() {
    let request = json!({
        "model": "gpt-5.5#openai",
        "max_tokens": 512,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use tools.", "cache_control": {"type": "ephemeral"}}],
        "temperature": 0.2, "top_p": 0.9, "top_k": 5,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [
            {"name": "weather", "description": "Weather by city", "input_schema": {"type": "object", "properties": {"title": {"type": "string"}, "city": {"type": "string"}}, "required": ["city"]}},
            {"type": "web_search_20250305", "name": "web_search"}
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is this and the weather?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}}
            ]},
            {"role": "user", "content": [
                {"type": "text", "text": "Here you go."},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "21C"}, {"type": "text", "text": "sunny"}], "is_error": false}
            ]}
        ]
    });
    assert_eq!(
        translate(request),
        json!({
            "model": "openai/gpt-5.5",
            "max_tokens": 512,
            "temperature": 0.2, "top_p": 0.9,
            "stop": ["END"],
            "user": "u-1",
            "stream": true,
            "stream_options": {"include_usage": true},
            "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather by city",
                "parameters": {"type": "object", "properties": {"title": {"type": "string"}, "city": {"type": "string"}}, "required": ["city"]}}}],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
            "messages": [
                {"role": "system", "content": format!("Be brief.\n\nUse tools.\n\n{}", note(&["web_search"]))},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this and the weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                ]},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": "21C\nsunny"},
                {"role": "user", "content": "Here you go."}
            ]
        })
    );
}

#[test]
fn tool_choice_forms() {
    let with = |choice: Value| {
        let r = json!({"max_tokens": 1, "messages": [{"role": "user", "content": "x"}],
                       "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": choice});
        let out = translate(r);
        (out.get("tool_choice").cloned(), out.get("parallel_tool_calls").cloned())
    };
    assert_eq!(with(json!({"type": "auto"})), (Some(json!("auto")), None));
    assert_eq!(with(json!({"type": "any"})), (Some(json!("required")), None));
    assert_eq!(with(json!({"type": "none"})), (Some(json!("none")), None));
    assert_eq!(
        with(json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true})),
        (Some(json!({"type": "function", "function": {"name": "f"}})), Some(json!(false)))
    );
}

#[test]
fn simple_forms_and_no_stream_options_without_stream() {
    let out = to_openai(
        &json!({"max_tokens": 10, "system": "sys", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": true, "content": "boom"}]}
        ]}),
        "m",
        NO_STREAM_USAGE,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t", "content": "Error: boom"}
        ]})
    );
    let streamed = to_openai(
        &json!({"max_tokens": 1, "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        "m",
        NO_STREAM_USAGE,
    )
    .unwrap();
    assert_eq!(streamed.get("stream_options"), None, "not for mistral");
}

#[test]
fn validation_errors_are_400() {
    for bad in [
        json!({"messages": [{"role": "user", "content": "x"}]}),
        json!({"max_tokens": "5", "messages": [{"role": "user", "content": "x"}]}),
        json!({"max_tokens": 5}),
        json!({"max_tokens": 5, "messages": []}),
        json!({"max_tokens": 5, "messages": [{"role": "user"}]}),
        json!({"max_tokens": 5, "messages": [{"role": "user", "content": 7}]}),
        json!({"max_tokens": 5, "system": 3, "messages": [{"role": "user", "content": "x"}]}),
        json!({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]}),
    ] {
        let e = to_openai(&bad, "m", STREAM_USAGE).unwrap_err();
        assert_eq!(e.status().as_u16(), 400, "{bad}");
    }
    let e = to_openai(
        &json!({"max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]}),
        "m",
        STREAM_USAGE,
    )
    .unwrap_err();
    assert_eq!(e.message(), "messages.0.role: must be \"user\", \"assistant\" or \"system\", got \"bot\"");
    let e =
        to_openai(&json!({"max_tokens": 5, "messages": [{"content": "x"}]}), "m", STREAM_USAGE).unwrap_err();
    assert!(e.message().ends_with("got nothing"), "{}", e.message());
    let image = json!({"type": "image", "source": {"type": "file", "file_id": "f"}});
    let e = to_openai(&json!({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, image]}]}), "m", STREAM_USAGE).unwrap_err();
    assert_eq!(
        e.message(),
        "messages.0.content.1.source.type: images must be \"base64\" or \"url\" to reach this provider, got \"file\""
    );
}

#[test]
fn system_turns_stay_in_place_but_never_split_tool_calls_from_results() {
    let out = translate(json!({"max_tokens": 5, "system": "top", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": [{"type": "text", "text": "env", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "system", "content": "reminder"},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "done"}, {"type": "text", "text": "go on"}]},
        {"role": "system", "content": []}
    ]}));
    let roles: Vec<(&str, Value)> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].clone()))
        .collect();
    assert_eq!(
        roles,
        [
            ("system", json!("top")),
            ("user", json!("hi")),
            ("system", json!("env")),
            ("assistant", Value::Null),
            ("tool", json!("done")),
            ("system", json!("reminder")),
            ("user", json!("go on")),
        ]
    );
}

#[test]
fn fields_without_an_openai_place_are_dropped() {
    let request = json!({
        "model": "m", "max_tokens": 100, "stream": false,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "output_config": {"effort": "high"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "container": "c-1", "mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}],
        "service_tier": "auto", "speed": "fast", "top_k": 3, "inference_geo": "us",
        "cache_control": {"type": "ephemeral"},
        "tools": [
            {"type": "bash_20250124", "name": "bash"},
            {"type": "web_search_20250305", "name": "web_search"},
            {"type": "custom", "name": "f", "input_schema": {"type": "object"}, "strict": true,
             "cache_control": {"type": "ephemeral"}, "input_examples": [{}], "eager_input_streaming": true}
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}},
                {"type": "container_upload", "file_id": "f"},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}},
                {"type": "future_block_type", "x": 1}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "redacted_thinking", "data": "r"},
                {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {}},
                {"type": "web_search_tool_result", "tool_use_id": "s1", "content": []},
                {"type": "text", "text": "a"}
            ]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "only", "signature": "s"}]},
            {"role": "user", "content": "next"}
        ]
    });
    assert_eq!(
        translate(request),
        json!({
            "model": "openai/gpt-5.5", "max_tokens": 100,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": true}}],
            "messages": [
                {"role": "system", "content": note(&["bash", "web_search"])},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "next"}
            ]
        })
    );
}

#[test]
fn documents_search_results_and_tool_result_images_become_parts() {
    let image =
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QQ"}});
    let out = translate(json!({"max_tokens": 5, "messages": [
        {"role": "user", "content": [
            {"type": "document", "title": "Notes", "source": {"type": "text", "media_type": "text/plain", "data": "body"}},
            {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "c1"}, {"type": "text", "text": "c2"}]}},
            {"type": "search_result", "title": "T", "source": "https://s", "content": [{"type": "text", "text": "hit"}]}
        ]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "read", "input": {"p": "a.png"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [
            {"type": "text", "text": "the image:"}, image
        ]}]}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "Notes\n\nbody\n\nc1\nc2\n\nT (https://s)\nhit"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "t", "type": "function", "function": {"name": "read", "arguments": "{\"p\":\"a.png\"}"}}]},
            {"role": "tool", "tool_call_id": "t", "content": "the image:"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ"}}]}
        ])
    );
}

#[test]
fn deferred_tools_are_offered_once_referenced() {
    let tools = json!([
        {"name": "Bash", "input_schema": {"type": "object"}},
        {"name": "Cron", "input_schema": {"type": "object"}, "defer_loading": true},
        {"name": "Later", "input_schema": {"type": "object"}, "defer_loading": true}
    ]);
    let names = |out: &Value| -> Vec<String> {
        out["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let first =
        translate(json!({"max_tokens": 5, "tools": tools, "messages": [{"role": "user", "content": "x"}]}));
    assert_eq!(names(&first), ["Bash"]);
    let later = translate(json!({"max_tokens": 5, "tools": tools, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "s", "name": "ToolSearch", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "s", "content": [{"type": "tool_reference", "tool_name": "Cron"}]}]}
    ]}));
    assert_eq!(names(&later), ["Bash", "Cron"]);
    assert_eq!(later["messages"][2]["content"], "Tool Cron is now available.");
}

#[test]
fn structured_output_becomes_response_format() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let out = translate(json!({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                               "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": schema}}}));
    assert_eq!(
        out["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": true}})
    );
}

/// Claude Code 2.1's own requests (tests/fixtures/claude_code/README.md).
#[test]
fn claude_code_requests_translate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude_code");
    for name in ["first_turn.json", "after_tool_result.json"] {
        let request: Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        let out = translate(request.clone());
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(messages[0]["role"], "system", "{name}");
        assert!(messages[0]["content"].as_str().unwrap().contains("Claude agent"), "{name}");
        let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert!(roles.contains(&"user") && roles[1..].contains(&"system"), "{name}: {roles:?}");
        let offered = out["tools"].as_array().unwrap();
        let deferred =
            request["tools"].as_array().unwrap().iter().filter(|t| t["defer_loading"] == true).count();
        assert_eq!(offered.len() + deferred, request["tools"].as_array().unwrap().len(), "{name}");
        for key in ["thinking", "context_management", "output_config", "metadata", "system"] {
            assert!(out.get(key).is_none(), "{name}: {key}");
        }
        assert!(!out.to_string().contains("cache_control"), "{name}");
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
    }
    let request: Value =
        serde_json::from_slice(&std::fs::read(dir.join("after_tool_result.json")).unwrap()).unwrap();
    let out = translate(request);
    let tail: Vec<&str> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(tail, ["tool", "assistant"]);
}

/// `n` tools (half deferred, loaded by a `tool_reference`), and `n` turns of a
/// call and its result.
fn many_tools(n: usize) -> Value {
    let tools: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("t{i}"), "input_schema": {"type": "object"}, "defer_loading": i % 2 == 1}))
        .collect();
    let mut messages = vec![json!({"role": "user", "content": "go"})];
    for i in 0..n {
        let call = json!({"type": "tool_use", "id": format!("c{i}"), "name": format!("t{i}"), "input": {}});
        messages.push(json!({"role": "assistant", "content": [{"type": "text", "text": "x"}, call]}));
        let reference = json!({"type": "tool_reference", "tool_name": format!("t{i}")});
        let result = json!({"type": "tool_result", "tool_use_id": format!("c{i}"), "content": [reference]});
        messages.push(json!({"role": "user", "content": [result, {"type": "text", "text": "y"}]}));
    }
    json!({"model": "m", "max_tokens": 10, "tools": tools, "messages": messages})
}

#[test]
fn the_work_grows_with_the_body_not_faster() {
    let growth = crate::test_support::body_growth(many_tools, |object, n| {
        let target = crate::test_support::target("m", "m#deepseek", "deepseek");
        assert_eq!(super::to_chat(object, &target).unwrap().tools.len(), n);
    });
    assert!(growth < 30.0, "10× the tools and turns took {growth:.0}× the time");
}

#[test]
fn reasoning_goes_back_to_the_providers_that_want_it() {
    let request = |signature: &str| {
        json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should list files.", "signature": signature},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a.txt"}]},
        ]})
    };
    let deepseek = to_openai(&request(""), "deepseek/m", "deepseek").unwrap();
    assert_eq!(
        deepseek["messages"][1]["reasoning_content"], "I should list files.",
        "DeepSeek wants it back"
    );
    let openai = to_openai(&request(""), "openai/m", "openai").unwrap();
    assert!(openai["messages"][1].get("reasoning_content").is_none(), "others reject it");
    let signed = to_openai(&request("EqQBCkYIBxgCKkD"), "deepseek/m", "deepseek").unwrap();
    assert!(signed["messages"][1].get("reasoning_content").is_none(), "Anthropic's own never leaves");
}
