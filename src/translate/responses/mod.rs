//! The OpenAI Responses API over a chat upstream (docs/translation.md,
//! "Responses"): `/v1/responses` for every provider but `openai` (which the
//! gateway reaches natively).
//!
//! - [`request::to_chat`]: the request; it also yields the
//!   [`ResponsesContext`] the answer is built with;
//! - [`answer::ResponsesAnswer`]: the answer, whole or streamed.

pub mod answer;
pub mod compaction;
mod custom_input;
pub mod request;
mod tools;

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::chat::Usage;
use super::chat::request::ChatRequest;
use super::{Answer, Dialect, Native, Target};
use crate::errors::{OPENAI, ProxyError, Shape};
use crate::json::Object;

/// The Responses dialect.
#[derive(Debug)]
pub struct Responses;

pub static RESPONSES: Responses = Responses;

impl Dialect for Responses {
    fn name(&self) -> &'static str {
        "responses"
    }

    fn errors(&self) -> Shape {
        &OPENAI
    }

    fn native(&self) -> Native {
        Native { provider: "openai", generate: "/responses", count: None }
    }

    fn estimate_tokens(&self, _request: &Object) -> Result<u64, ProxyError> {
        Err(ProxyError::NotFound("the Responses API has no token count here".into()))
    }

    fn to_chat<'a>(
        &self,
        request: &Object<'a>,
        target: &Target,
    ) -> Result<(ChatRequest<'a>, Box<dyn Answer>), ProxyError> {
        let (chat, context) = request::to_chat(request, target)?;
        Ok((chat, Box::new(answer::ResponsesAnswer::new(context))))
    }
}

/// What the answer to one Responses request needs from the request: the
/// client's model, how chat tool names map back, and the fields a `response`
/// object echoes.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesContext {
    /// The model as the client sent it.
    pub model: String,
    pub tools: ToolNames,
    /// Request fields echoed in every `response` object (`instructions`,
    /// `tools`, `tool_choice`, `temperature`, …).
    pub echo: Map<String, Value>,
    /// The request asked for a compaction: the answer is one `compaction`
    /// item ([`compaction`]).
    pub compacting: bool,
}

/// One Responses tool offered to the chat model as a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolName {
    /// The function name the chat model sees.
    pub chat: String,
    pub name: String,
    pub namespace: Option<String>,
    /// A `custom` tool (free-form text input), offered as a function with one
    /// string parameter `input`.
    pub custom: bool,
}

/// The tools of one request, by the names the chat model uses. Both lookups
/// are by hash, so a request of many tools and many calls stays linear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolNames {
    tools: Vec<ToolName>,
    /// A chat name → its tool (the first of that name).
    by_chat: HashMap<String, usize>,
    /// `(namespace, name)` → its tool (the first).
    by_name: HashMap<(Option<String>, String), usize>,
}

impl ToolNames {
    pub fn new(tools: Vec<ToolName>) -> ToolNames {
        let mut by_chat = HashMap::with_capacity(tools.len());
        let mut by_name = HashMap::with_capacity(tools.len());
        for (i, tool) in tools.iter().enumerate() {
            by_chat.entry(tool.chat.clone()).or_insert(i);
            by_name.entry((tool.namespace.clone(), tool.name.clone())).or_insert(i);
        }
        ToolNames { tools, by_chat, by_name }
    }

    /// The tool a chat call names; an unknown name is a plain function of that name.
    pub fn by_chat_name(&self, chat: &str) -> ToolName {
        match self.by_chat.get(chat) {
            Some(&i) => self.tools[i].clone(),
            None => ToolName { chat: chat.to_owned(), name: chat.to_owned(), namespace: None, custom: false },
        }
    }

    /// The chat name of a Responses tool.
    pub fn chat_name(&self, name: &str, namespace: Option<&str>) -> String {
        let key = (namespace.map(str::to_owned), name.to_owned());
        self.by_name.get(&key).map_or_else(|| chat_name(name, namespace), |&i| self.tools[i].chat.clone())
    }
}

/// The function name a (namespaced) tool has on the chat side: chat names
/// allow letters, digits, `_` and `-`, so `crm` + `lookup` is `crm__lookup`.
pub fn chat_name(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{ns}__{name}"),
        None => name.to_owned(),
    }
}

/// A `resp_…` id from the upstream's completion id.
pub fn response_id(upstream_id: Option<&str>) -> String {
    super::id_from_upstream("resp", upstream_id)
}

/// The id of output item `index` of response `response_id`.
pub fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    format!("{prefix}_{}_{index}", response_id.trim_start_matches("resp_"))
}

/// Usage in the Responses shape.
pub fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

/// How a response ended, from the chat `finish_reason`: `completed`, or
/// `incomplete` with its reason.
pub fn status_of(finish_reason: Option<&str>) -> (&'static str, Option<&'static str>) {
    match finish_reason {
        Some("length") => ("incomplete", Some("max_output_tokens")),
        Some("content_filter") => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// The parts of a `response` object that vary.
pub struct ResponseState<'a> {
    pub id: &'a str,
    pub created_at: u64,
    pub status: &'a str,
    pub output: Vec<Value>,
    pub usage: Option<Usage>,
    pub incomplete: Option<&'a str>,
    pub error: Option<Value>,
}

impl ResponsesContext {
    /// A `response` object: the varying parts, then the echoed request fields.
    pub fn response_object(&self, state: ResponseState) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), state.id.into());
        object.insert("object".into(), "response".into());
        object.insert("created_at".into(), state.created_at.into());
        object.insert("status".into(), state.status.into());
        object.insert("error".into(), state.error.unwrap_or(Value::Null));
        let incomplete = state.incomplete.map(|reason| json!({"reason": reason}));
        object.insert("incomplete_details".into(), incomplete.unwrap_or(Value::Null));
        object.insert("model".into(), self.model.clone().into());
        object.insert("output".into(), Value::Array(state.output));
        object.insert("usage".into(), state.usage.map_or(Value::Null, usage_json));
        for (key, value) in &self.echo {
            object.entry(key.clone()).or_insert_with(|| value.clone());
        }
        Value::Object(object)
    }

    /// An output item for a tool call: `function_call`, or `custom_tool_call`
    /// with the `input` its arguments carry.
    pub fn call_item(&self, id: &str, call_id: &str, chat_name: &str, arguments: &str, done: bool) -> Value {
        let tool = self.tools.by_chat_name(chat_name);
        let status = if done { "completed" } else { "in_progress" };
        let mut item = match tool.custom {
            true => {
                let input = if done { custom_input::input_of(arguments) } else { String::new() };
                json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": tool.name, "input": input,
                       "status": status})
            }
            false => json!({"type": "function_call", "id": id, "call_id": call_id, "name": tool.name,
                            "arguments": arguments, "status": status}),
        };
        if let Some(ns) = tool.namespace {
            item["namespace"] = ns.into();
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_status() {
        let tools = ToolNames::new(vec![ToolName {
            chat: "crm__lookup".into(),
            name: "lookup".into(),
            namespace: Some("crm".into()),
            custom: false,
        }]);
        assert_eq!(tools.by_chat_name("crm__lookup").namespace.as_deref(), Some("crm"));
        assert_eq!(tools.by_chat_name("other").name, "other");
        assert_eq!(tools.chat_name("lookup", Some("crm")), "crm__lookup");
        assert_eq!(response_id(Some("chatcmpl-a.b")), "resp_ab");
        assert_eq!(item_id("msg", "resp_ab", 2), "msg_ab_2");
        assert_eq!(status_of(Some("length")), ("incomplete", Some("max_output_tokens")));
        assert_eq!(status_of(Some("tool_calls")), ("completed", None));
    }
}
