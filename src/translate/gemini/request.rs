//! A Gemini `generateContent` request as a chat request: `systemInstruction`,
//! `contents` (text, inline images, function calls and their responses),
//! `tools[].functionDeclarations`, `toolConfig` and `generationConfig`.
//! Function calls get ids in order (Gemini's may have none); a response is
//! matched to the earliest unanswered call of its name.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::json;

use super::signature;
use crate::errors::ProxyError;
use crate::json::{Json, Object, quoted};
use crate::translate::Target;
use crate::translate::bad;
use crate::translate::chat::request::{
    ChatRequest, Content, Function, ImageUrl, Message, Part, Tool, ToolCall, ToolChoice, schema,
};

/// The request as a chat request for `target` (quirks not yet applied).
pub fn to_chat<'a>(request: &Object<'a>, target: &Target) -> Result<ChatRequest<'a>, ProxyError> {
    let mut chat = ChatRequest { model: target.model.clone(), ..ChatRequest::default() };
    if let Some(system) = request.object("systemInstruction").or_else(|| request.object("system_instruction"))
    {
        let text = texts(&system.array("parts").unwrap_or_default());
        if !text.is_empty() {
            chat.messages.push(Message::System { content: Cow::Owned(text) });
        }
    }
    let contents = request.array("contents").ok_or_else(|| bad("contents: required"))?;
    chat.messages.reserve(contents.len());
    // Calls not yet answered, by name, oldest first (by hash: many calls stay linear).
    let mut open: HashMap<String, VecDeque<String>> = HashMap::new();
    let mut next_id = 0;
    for (i, content) in contents.iter().enumerate() {
        let content = content.object().ok_or_else(|| bad(format!("contents.{i}: must be an object")))?;
        let parts = content.array("parts").unwrap_or_default();
        match content.str("role").as_deref() {
            Some("model") => {
                let mut calls = Vec::new();
                let mut text = String::new();
                let mut reasoning = String::new();
                for part in parts.iter().filter_map(|p| p.object()) {
                    if let Some(carried) = part.str("thoughtSignature").and_then(|s| signature::reasoning(&s))
                    {
                        reasoning.push_str(&carried);
                    }
                    if let Some(call) = part.object("functionCall") {
                        let name = call
                            .str("name")
                            .ok_or_else(|| bad(format!("contents.{i}: functionCall.name required")))?;
                        let id = call.str("id").map_or_else(|| format!("call_{next_id}"), Cow::into_owned);
                        next_id += 1;
                        open.entry(name.to_string()).or_default().push_back(id.clone());
                        let args = call.get("args").map_or(Cow::Borrowed("{}"), |a| Cow::Borrowed(a.text()));
                        calls.push(ToolCall::new(Cow::Owned(id), name, args));
                    } else if part.bool("thought") != Some(true) {
                        text.push_str(&part.str("text").unwrap_or_default());
                    }
                }
                chat.messages.push(Message::assistant(text, calls).with_reasoning(reasoning));
            }
            Some("user") | None => {
                let mut user = Vec::new();
                for part in parts.iter().filter_map(|p| p.object()) {
                    if let Some(response) = part.object("functionResponse") {
                        let name = response.str("name").unwrap_or_default();
                        let calls = open.entry(name.to_string()).or_default();
                        let id = match response.str("id") {
                            Some(id) => {
                                calls.retain(|open_id| *open_id != id);
                                id.into_owned()
                            }
                            None => calls.pop_front().unwrap_or_else(|| format!("call_{name}")),
                        };
                        let output = response.get("response").map_or("{}", Json::text).to_owned();
                        chat.messages
                            .push(Message::Tool { tool_call_id: Cow::Owned(id), content: output.into() });
                    } else if let Some(text) = part.str("text") {
                        user.push(Part::Text { text });
                    } else if let Some(data) =
                        part.object("inlineData").or_else(|| part.object("inline_data"))
                    {
                        let mime = data.str("mimeType").or_else(|| data.str("mime_type")).unwrap_or_default();
                        let url = format!("data:{mime};base64,{}", data.str("data").unwrap_or_default());
                        user.push(Part::ImageUrl {
                            image_url: ImageUrl { url: Cow::Owned(url), detail: None },
                        });
                    } else if let Some(file) = part.object("fileData").or_else(|| part.object("file_data")) {
                        let uri = file.str("fileUri").or_else(|| file.str("file_uri")).unwrap_or_default();
                        user.push(Part::ImageUrl { image_url: ImageUrl { url: uri, detail: None } });
                    }
                }
                if !user.is_empty() {
                    chat.messages.push(Message::User { content: Content::from_parts(user) });
                }
            }
            Some(other) => {
                return Err(bad(format!(
                    "contents.{i}.role: must be \"user\" or \"model\", got {}",
                    quoted(other)
                )));
            }
        }
    }
    if request.has("cachedContent") {
        return Err(bad("cachedContent: cached contents live on Google's side; send the contents"));
    }
    tools(request, &mut chat)?;
    generation(request, &mut chat)?;
    Ok(chat)
}

/// The text parts, joined by blank lines.
fn texts(parts: &[Json]) -> String {
    let all: Vec<Cow<str>> = parts.iter().filter_map(|p| p.object()).filter_map(|p| p.str("text")).collect();
    all.join("\n\n")
}

/// `tools[].functionDeclarations` and `toolConfig.functionCallingConfig`.
fn tools<'a>(request: &Object<'a>, chat: &mut ChatRequest<'a>) -> Result<(), ProxyError> {
    for (i, tool) in request.array("tools").unwrap_or_default().iter().enumerate() {
        let tool = tool.object().unwrap_or_default();
        let declarations = tool.array("functionDeclarations").or_else(|| tool.array("function_declarations"));
        for (k, declaration) in declarations.unwrap_or_default().iter().enumerate() {
            let declaration = declaration.object().unwrap_or_default();
            let name = declaration
                .str("name")
                .ok_or_else(|| bad(format!("tools.{i}.functionDeclarations.{k}.name: required")))?;
            let parameters = declaration
                .get("parametersJsonSchema")
                .or_else(|| declaration.get("parameters"))
                .map_or_else(|| schema(&json!({"type": "object"})), |p| Cow::Borrowed(p.raw()));
            let description = declaration.str("description");
            chat.tools.push(Tool::function(Function { name, description, parameters, strict: None }));
        }
    }
    let config = request.object("toolConfig").and_then(|c| c.object("functionCallingConfig"));
    if let Some(config) = config {
        // A set: many tools and many allowed names stay linear.
        let allowed: HashSet<Cow<str>> = config
            .array("allowedFunctionNames")
            .unwrap_or_default()
            .into_iter()
            .filter_map(Json::as_str)
            .collect();
        if !allowed.is_empty() {
            chat.tools.retain(|t| allowed.contains(&t.function.name));
        }
        chat.tool_choice = match config.str("mode").as_deref() {
            Some("ANY") if allowed.len() == 1 => Some(ToolChoice::function(allowed.into_iter().next())),
            Some("ANY") => Some(ToolChoice::Mode("required")),
            Some("NONE") => Some(ToolChoice::Mode("none")),
            _ => None,
        };
    }
    Ok(())
}

/// `generationConfig`: sampling, length, stops and JSON output.
fn generation<'a>(request: &Object<'a>, chat: &mut ChatRequest<'a>) -> Result<(), ProxyError> {
    let Some(config) = request.object("generationConfig").or_else(|| request.object("generation_config"))
    else {
        return Ok(());
    };
    if config.u64("candidateCount").is_some_and(|n| n > 1) {
        return Err(bad("generationConfig.candidateCount: one candidate only through this provider"));
    }
    // Thinking: a level as given, a budget by its size (0: as little as the model allows).
    let thinking = config.object("thinkingConfig");
    chat.reasoning_effort = thinking.and_then(|t| match (t.str("thinkingLevel"), t.get("thinkingBudget")) {
        (Some(level), _) => Some(Cow::Owned(level.to_ascii_lowercase())),
        (None, Some(budget)) => match budget.as_u64() {
            Some(0) => Some(Cow::Borrowed("minimal")),
            Some(1..=1024) => Some(Cow::Borrowed("low")),
            Some(1025..=8192) => Some(Cow::Borrowed("medium")),
            Some(_) => Some(Cow::Borrowed("high")),
            None => None, // -1: the model decides
        },
        (None, None) => None,
    });
    chat.temperature = config.get("temperature").filter(|v| v.is_number()).map(Json::raw);
    chat.top_p = config.get("topP").filter(|v| v.is_number()).map(Json::raw);
    chat.max_tokens = config.u64("maxOutputTokens");
    chat.stop = config.get("stopSequences").filter(|v| v.is_array()).map(Json::raw);
    let schema = config.get("responseJsonSchema").or_else(|| config.get("responseSchema"));
    chat.response_format = match (config.str("responseMimeType").as_deref(), schema) {
        (Some("application/json"), Some(schema)) => Some(json!({"type": "json_schema",
            "json_schema": {"name": "output", "schema": schema.to_value()}})),
        (Some("application/json"), None) => Some(json!({"type": "json_object"})),
        _ => None,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::errors::ProxyError;
    use crate::json::Json;
    use crate::test_support::target;

    /// The request translated for `provider`, its quirks applied.
    fn attempt(request: &Value, provider: &str) -> Result<Value, ProxyError> {
        let text = request.to_string();
        let object = Json::parse(&text).unwrap().object().unwrap();
        let target = target("deepseek/m", "m#deepseek", provider);
        let chat = super::to_chat(&object, &target)?.for_provider(&target.provider.quirks);
        Ok(serde_json::to_value(chat).unwrap())
    }

    fn translate(request: Value) -> Value {
        attempt(&request, "deepseek").unwrap()
    }

    #[test]
    fn a_conversation_with_a_function_round_trip() {
        let out = translate(json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
                {"role": "model", "parts": [{"text": "Checking.", "thought": true},
                                            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "weather", "response": {"temp": 21}}}]},
            ],
            "tools": [{"functionDeclarations": [{"name": "weather", "description": "Weather now",
                                                 "parametersJsonSchema": {"type": "object"}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {"temperature": 0.2, "maxOutputTokens": 50, "stopSequences": ["END"],
                                 "responseMimeType": "application/json"},
        }));
        assert_eq!(
            out["messages"],
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_0", "content": "{\"temp\":21}"},
            ])
        );
        assert_eq!(out["tools"][0]["function"]["name"], "weather");
        assert_eq!(out["tool_choice"], "required");
        assert_eq!((out["temperature"].clone(), out["max_tokens"].clone()), (json!(0.2), json!(50)));
        assert_eq!(
            (out["stop"].clone(), out["response_format"].clone()),
            (json!(["END"]), json!({"type": "json_object"}))
        );
    }

    #[test]
    fn what_it_refuses() {
        let e = attempt(&json!({"contents": [{"role": "robot", "parts": []}]}), "deepseek").unwrap_err();
        assert!(e.message().contains("contents.0.role"), "{}", e.message());
    }

    #[test]
    fn the_work_grows_with_the_body_not_faster() {
        let body = |n: usize| {
            let declarations: Vec<Value> = (0..n).map(|i| json!({"name": format!("f{i}")})).collect();
            let mut contents = Vec::new();
            for i in 0..n {
                let call = json!({"functionCall": {"name": format!("f{i}"), "args": {}}});
                contents.push(json!({"role": "model", "parts": [call]}));
                let response = json!({"functionResponse": {"name": format!("f{i}"), "response": {}}});
                contents.push(json!({"role": "user", "parts": [response]}));
            }
            let allowed: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
            json!({"contents": contents, "tools": [{"functionDeclarations": declarations}],
                   "toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": allowed}}})
        };
        let growth = crate::test_support::body_growth(body, |object, n| {
            assert_eq!(super::to_chat(object, &target("m", "m", "deepseek")).unwrap().tools.len(), n);
        });
        assert!(growth < 30.0, "10× the functions and calls took {growth:.0}× the time");
    }

    #[test]
    fn thinking_and_what_cannot_be_carried() {
        let config = |c: Value| json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": c});
        let effort = |c: Value| attempt(&config(c), "openai").unwrap()["reasoning_effort"].clone();
        assert_eq!(effort(json!({"thinkingConfig": {"thinkingBudget": 0}})), json!("minimal"));
        assert_eq!(effort(json!({"thinkingConfig": {"thinkingBudget": 4096}})), json!("medium"));
        assert_eq!(effort(json!({"thinkingConfig": {"thinkingLevel": "HIGH"}})), json!("high"));
        assert_eq!(effort(json!({"thinkingConfig": {"thinkingBudget": -1}})), Value::Null);
        assert_eq!(
            translate(config(json!({"thinkingConfig": {"thinkingBudget": 512}})))["reasoning_effort"],
            Value::Null,
            "DeepSeek takes none"
        );
        for (body, field) in [
            (config(json!({"candidateCount": 2})), "candidateCount"),
            (json!({"contents": [], "cachedContent": "cachedContents/x"}), "cachedContent"),
        ] {
            let e = attempt(&body, "deepseek").unwrap_err();
            assert!(e.message().contains(field), "{}", e.message());
        }
    }
}
