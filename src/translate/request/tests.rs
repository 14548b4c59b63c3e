use serde_json::{Value, json};

use super::{RequestOptions, to_openai};

const STREAM_USAGE: RequestOptions = RequestOptions { include_usage: true };

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
                {"role": "system", "content": "Be brief.\n\nUse tools."},
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
        RequestOptions { include_usage: false },
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
        RequestOptions { include_usage: false },
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
        json!({"max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
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
    assert!(e.message().contains("messages.0.role"), "{}", e.message());
}
