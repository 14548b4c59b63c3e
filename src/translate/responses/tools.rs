//! Responses tools as chat functions: `function`, `custom` (one string
//! parameter, `input`) and the tools inside a `namespace`; hosted tools are
//! left out, since the proxy cannot run them. And `tool_choice` in every form.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::json;

use super::{ToolName, ToolNames, chat_name};
use crate::errors::ProxyError;
use crate::json::{Json, Object, quoted};
use crate::translate::bad;
use crate::translate::chat::request::{Function, Tool, ToolChoice, schema};

/// The chat tools and the name map. `function`, `custom` and the functions and
/// custom tools inside a `namespace` become chat functions; hosted tools are
/// left out (the proxy cannot run them).
pub fn tools<'a>(request: &Object<'a>) -> Result<(Vec<Tool<'a>>, ToolNames), ProxyError> {
    let mut tools = Vec::new();
    let mut names = Vec::new();
    for (i, tool) in request.array("tools").unwrap_or_default().iter().enumerate() {
        let tool = tool.object().unwrap_or_default();
        if tool.kind().as_deref() == Some("namespace") {
            let namespace = tool.str("name").ok_or_else(|| bad(format!("tools.{i}.name: required")))?;
            for (k, inner) in tool.array("tools").unwrap_or_default().iter().enumerate() {
                let inner = inner.object().unwrap_or_default();
                let at = format!("tools.{i}.tools.{k}");
                if let Some((chat, name)) = function_tool(&inner, Some(&namespace), &at)? {
                    tools.push(chat);
                    names.push(name);
                }
            }
        } else if let Some((chat, name)) = function_tool(&tool, None, &format!("tools.{i}"))? {
            tools.push(chat);
            names.push(name);
        }
    }
    Ok((tools, ToolNames::new(names)))
}

/// A `function` or `custom` tool as a chat function; `None` for hosted tools.
fn function_tool<'a>(
    tool: &Object<'a>,
    namespace: Option<&str>,
    at: &str,
) -> Result<Option<(Tool<'a>, ToolName)>, ProxyError> {
    let kind = tool.kind();
    if !matches!(kind.as_deref(), Some("function") | Some("custom")) {
        return Ok(None);
    }
    let name = tool.str("name").ok_or_else(|| bad(format!("{at}.name: required")))?;
    let chat = chat_name(&name, namespace);
    let custom = kind.as_deref() == Some("custom");
    let mut description = tool.str("description").unwrap_or_default();
    let (parameters, strict) = match custom {
        true => {
            let format = tool.object("format").filter(|f| f.kind().as_deref() == Some("grammar"));
            if let Some(format) = format {
                let syntax = format.str("syntax").unwrap_or(Cow::Borrowed("lark"));
                let definition = format.str("definition").unwrap_or_default();
                let grammar = format!("\n\nThe input must follow this {syntax} grammar:\n{definition}");
                description.to_mut().push_str(&grammar);
            }
            let input = json!({"type": "string", "description": "The tool's input, as free-form text."});
            let parameters = json!({"type": "object", "properties": {"input": input}, "required": ["input"],
                                    "additionalProperties": false});
            (schema(&parameters), None)
        }
        false => {
            let parameters = match tool.get("parameters") {
                Some(parameters) => Cow::Borrowed(parameters.raw()),
                None => schema(&json!({"type": "object"})),
            };
            (parameters, tool.bool("strict"))
        }
    };
    let names = ToolName {
        chat: chat.clone(),
        name: name.into_owned(),
        namespace: namespace.map(str::to_owned),
        custom,
    };
    let description = (!description.is_empty()).then_some(description);
    let function = Function { name: Cow::Owned(chat), description, parameters, strict };
    Ok(Some((Tool::function(function), names)))
}

/// `tool_choice` in every form. `allowed_tools` narrows the tools to its list.
pub fn tool_choice<'a>(
    choice: Option<Json<'a>>,
    mut tools: Vec<Tool<'a>>,
    names: &ToolNames,
) -> Result<(Vec<Tool<'a>>, Option<ToolChoice<'a>>), ProxyError> {
    let Some(choice) = choice else { return Ok((tools, None)) };
    if let Some(mode) = choice.as_str() {
        let mode = match mode.as_ref() {
            "auto" => "auto",
            "none" => "none",
            "required" => "required",
            other => return Err(bad(format!("tool_choice: unknown mode {}", quoted(other)))),
        };
        return Ok((tools, Some(ToolChoice::Mode(mode))));
    }
    let choice = choice.object().unwrap_or_default();
    let named = |c: &Object| {
        let name = c.str("name").unwrap_or_default();
        names.chat_name(&name, c.str("namespace").as_deref())
    };
    match choice.kind().as_deref() {
        Some("function") | Some("custom") => {
            Ok((tools, Some(ToolChoice::function(Some(Cow::Owned(named(&choice)))))))
        }
        Some("allowed_tools") => {
            let allowed: BTreeSet<String> = choice
                .array("tools")
                .unwrap_or_default()
                .iter()
                .map(|t| named(&t.object().unwrap_or_default()))
                .collect();
            tools.retain(|t| allowed.contains(t.function.name.as_ref()));
            let mode = match choice.str("mode").as_deref() {
                Some("required") => "required",
                _ => "auto",
            };
            Ok((tools, Some(ToolChoice::Mode(mode))))
        }
        Some(hosted) => Err(bad(format!(
            "tool_choice: the hosted tool {} cannot run through this provider; offer function tools instead",
            quoted(hosted)
        ))),
        None => Err(bad("tool_choice: must be \"auto\", \"none\", \"required\" or an object with a type")),
    }
}
