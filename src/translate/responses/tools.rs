//! Responses tools as chat functions: `function`, `custom` (one string
//! parameter, `input`) and the tools inside a `namespace`; hosted tools are
//! left out, since the proxy cannot run them. And `tool_choice` in every form.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{ToolName, ToolNames, chat_name};
use crate::errors::ProxyError;
use crate::translate::quoted;

fn bad(message: impl Into<String>) -> ProxyError {
    ProxyError::BadRequest(message.into())
}

fn text<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key).and_then(Value::as_str)
}

/// The chat tools and the name map. `function`, `custom` and the functions and
/// custom tools inside a `namespace` become chat functions; hosted tools are
/// left out (the proxy cannot run them).
pub fn tools(request: &Value) -> Result<(Vec<Value>, ToolNames), ProxyError> {
    let mut tools = Vec::new();
    let mut names = Vec::new();
    let list = request.get("tools").and_then(Value::as_array).into_iter().flatten();
    for (i, tool) in list.enumerate() {
        match tool.get("type").and_then(Value::as_str) {
            Some("namespace") => {
                let namespace = text(tool, "name").ok_or_else(|| bad(format!("tools.{i}.name: required")))?;
                for (k, inner) in
                    tool.get("tools").and_then(Value::as_array).into_iter().flatten().enumerate()
                {
                    let at = format!("tools.{i}.tools.{k}");
                    if let Some((chat, name)) = function_tool(inner, Some(namespace), &at)? {
                        tools.push(chat);
                        names.push(name);
                    }
                }
            }
            _ => {
                if let Some((chat, name)) = function_tool(tool, None, &format!("tools.{i}"))? {
                    tools.push(chat);
                    names.push(name);
                }
            }
        }
    }
    Ok((tools, ToolNames(names)))
}

/// A `function` or `custom` tool as a chat function; `None` for hosted tools.
fn function_tool(
    tool: &Value,
    namespace: Option<&str>,
    at: &str,
) -> Result<Option<(Value, ToolName)>, ProxyError> {
    let kind = tool.get("type").and_then(Value::as_str);
    if !matches!(kind, Some("function") | Some("custom")) {
        return Ok(None);
    }
    let name = text(tool, "name").ok_or_else(|| bad(format!("{at}.name: required")))?;
    let chat = chat_name(name, namespace);
    let custom = kind == Some("custom");
    let mut function = json!({"name": chat});
    let mut description = text(tool, "description").unwrap_or_default().to_owned();
    if custom {
        if let Some(format) = tool.get("format").filter(|f| f["type"] == "grammar") {
            let syntax = format["syntax"].as_str().unwrap_or("lark");
            let definition = format["definition"].as_str().unwrap_or_default();
            description.push_str(&format!("\n\nThe input must follow this {syntax} grammar:\n{definition}"));
        }
        let input = json!({"type": "string", "description": "The tool's input, as free-form text."});
        function["parameters"] = json!({"type": "object", "properties": {"input": input}, "required": ["input"],
                                        "additionalProperties": false});
    } else {
        function["parameters"] = tool.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"}));
        if let Some(strict) = tool.get("strict").filter(|s| s.is_boolean()) {
            function["strict"] = strict.clone();
        }
    }
    if !description.is_empty() {
        function["description"] = description.into();
    }
    let names = ToolName { chat, name: name.to_owned(), namespace: namespace.map(str::to_owned), custom };
    Ok(Some((json!({"type": "function", "function": function}), names)))
}

/// `tool_choice` in every form. `allowed_tools` narrows the tools to its list.
pub fn tool_choice(
    choice: Option<&Value>,
    tools: Vec<Value>,
    names: &ToolNames,
) -> Result<(Vec<Value>, Option<Value>), ProxyError> {
    let named = |c: &Value| {
        let name = text(c, "name").unwrap_or_default();
        json!({"type": "function", "function": {"name": names.chat_name(name, text(c, "namespace"))}})
    };
    let Some(choice) = choice.filter(|c| !c.is_null()) else {
        return Ok((tools, None));
    };
    if let Some(mode) = choice.as_str() {
        return match mode {
            "auto" | "none" | "required" => Ok((tools, Some(mode.into()))),
            other => Err(bad(format!("tool_choice: unknown mode {}", quoted(other)))),
        };
    }
    match choice.get("type").and_then(Value::as_str) {
        Some("function") | Some("custom") => Ok((tools, Some(named(choice)))),
        Some("allowed_tools") => {
            let allowed: BTreeSet<String> = choice["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| named(t)["function"]["name"].as_str().map(str::to_owned))
                .collect();
            let tools = tools
                .into_iter()
                .filter(|t| t["function"]["name"].as_str().is_some_and(|n| allowed.contains(n)))
                .collect();
            let mode = match choice["mode"].as_str() {
                Some("required") => "required",
                _ => "auto",
            };
            Ok((tools, Some(mode.into())))
        }
        Some(hosted) => Err(bad(format!(
            "tool_choice: the hosted tool {} cannot run through this provider; offer function tools instead",
            quoted(hosted)
        ))),
        None => Err(bad("tool_choice: must be \"auto\", \"none\", \"required\" or an object with a type")),
    }
}
