//! Codex's remote compaction on a chat provider (docs/translation.md,
//! "Compaction").
//!
//! Codex (with `x-codex-beta-features: remote_compaction_v2`) ends a request's
//! input with `{"type":"compaction_trigger"}` and expects exactly one
//! `compaction` output item, which it sends back in later requests in place
//! of the history it replaces. OpenAI fills that item with encrypted state; a
//! chat provider has none, so the proxy asks the model for a summary (the
//! conversation, then [`PROMPT`]; tools kept for the prompt cache, none
//! called) and answers one `compaction` item whose `encrypted_content` is the
//! summary behind a marker: not encrypted (the client holds its own
//! conversation anyway), and recognised when it comes back, where it becomes a
//! user message of context. A compaction item the proxy did not make (OpenAI's
//! encrypted one) is never sent to another provider.

/// What the model is asked at the end of the conversation.
pub const PROMPT: &str = "The conversation above is about to be replaced by a summary to save \
context. Write that summary now, for yourself, to continue the work without the history: the \
user's requests and constraints in their own words where they matter, what has been done \
(files, commands, results, decisions), what failed and why, the current state, and the next \
steps. Be complete and concise. Do not call tools; answer with the summary only.";

/// What a summary is marked with inside `encrypted_content`.
const MARK: &str = "apex-ai-proxy:compaction:v1:";

/// What precedes a summary when it goes back to the model as context.
const CONTEXT: &str = "Summary of the earlier conversation (compacted):\n\n";

/// The most a summary may hold: past it the compaction fails, rather than
/// hold an unbounded answer or hand back a summary cut short.
pub const MAX_SUMMARY: usize = 256 * 1024;

/// The `encrypted_content` of a compaction item holding `summary`.
pub fn seal(summary: &str) -> String {
    format!("{MARK}{summary}")
}

/// The context message for a compaction item's `encrypted_content`, when the
/// proxy made it.
pub fn context(encrypted_content: &str) -> Option<String> {
    encrypted_content.strip_prefix(MARK).map(|summary| format!("{CONTEXT}{summary}"))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::json::Json;
    use crate::test_support::target;
    use crate::translate::Dialect;
    use crate::translate::responses::RESPONSES;
    use crate::translate::stream::Translation;

    /// What Codex sends: the conversation, then the trigger.
    fn codex_compaction_request() -> Value {
        json!({"model": "deepseek-v4-pro#deepseek", "stream": true, "store": false,
            "instructions": "You are Codex.",
            "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}],
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
                {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "done"},
                {"type": "compaction_trigger"}]})
    }

    /// The chat request and, for `stream`, the client's events.
    fn through(request: &Value, stream: &[u8]) -> (Value, Vec<Value>) {
        let text = request.to_string();
        let object = Json::parse(&text).unwrap().object().unwrap();
        let target = target("deepseek-v4-pro", "deepseek-v4-pro#deepseek", "deepseek");
        let (chat, answer) = RESPONSES.to_chat(&object, &target).unwrap();
        let chat = serde_json::to_value(chat.for_provider(&target.provider.quirks)).unwrap();
        let mut translation = Translation::new(answer);
        let mut out = translation.push(stream);
        out.extend(translation.finish());
        let events = String::from_utf8(out).unwrap();
        let events =
            events.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap());
        (chat, events.collect())
    }

    fn chat_stream(reasoning: &str, text: &[&str]) -> Vec<u8> {
        let mut chunks =
            vec![json!({"id": "x", "choices": [{"index": 0, "delta": {"reasoning_content": reasoning}}]})];
        chunks.extend(
            text.iter().map(|t| json!({"id": "x", "choices": [{"index": 0, "delta": {"content": t}}]})),
        );
        chunks.push(json!({"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
        let mut out: Vec<u8> = chunks.iter().flat_map(|c| format!("data: {c}\n\n").into_bytes()).collect();
        out.extend(b"data: [DONE]\n\n");
        out
    }

    #[test]
    fn a_trigger_asks_for_a_summary_and_answers_one_compaction_item() {
        let (chat, events) =
            through(&codex_compaction_request(), &chat_stream("Hmm.", &["Ran exec", "_command."]));
        let messages = chat["messages"].as_array().unwrap();
        assert_eq!(messages.last().unwrap(), &json!({"role": "user", "content": PROMPT}));
        assert_eq!(messages[messages.len() - 2]["role"], "tool", "the conversation whole before it");
        assert_eq!(chat["tool_choice"], "none", "tools kept, none called");
        assert_eq!(chat["tools"][0]["function"]["name"], "exec_command");

        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.output_item.done",
                "response.completed"
            ],
            "no text streamed, no reasoning item"
        );
        let item = &events[3]["item"];
        assert_eq!(item["type"], "compaction");
        assert_eq!(item["encrypted_content"], seal("Ran exec_command."));
        assert_eq!(events[4]["response"]["output"], json!([item]), "exactly one output item");
    }

    #[test]
    fn the_compaction_item_comes_back_as_context_a_foreign_one_does_not() {
        let request = json!({"model": "m", "input": [
            {"type": "message", "role": "user", "content": "go"},
            {"type": "compaction", "id": "cmp_1", "encrypted_content": seal("Ran it.")},
            {"type": "compaction", "id": "cmp_2", "encrypted_content": "gAAAAB-openai"},
            {"type": "message", "role": "user", "content": "next"}]});
        let (chat, _) = through(&request, &chat_stream("", &["ok"]));
        let contents: Vec<&str> =
            chat["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
        assert_eq!(contents, ["go", &context(&seal("Ran it.")).unwrap(), "next"]);
    }

    #[test]
    fn an_empty_or_oversized_summary_fails_the_compaction() {
        let big = "x".repeat(MAX_SUMMARY / 2 + 1);
        for (stream, why) in [
            (chat_stream("Only thinking.", &[]), "no compaction summary"),
            (chat_stream("", &[&big, &big]), "over 256 KiB"),
        ] {
            let (_, events) = through(&codex_compaction_request(), &stream);
            let last = events.last().unwrap();
            assert_eq!(last["type"], "response.failed");
            assert!(last["response"]["error"]["message"].as_str().unwrap().contains(why), "{last}");
            assert!(events.iter().all(|e| e["item"]["type"] != "compaction"));
        }
    }

    #[test]
    fn a_whole_answer_is_one_compaction_item_too() {
        let mut request = codex_compaction_request();
        request["stream"] = false.into();
        let text = request.to_string();
        let object = Json::parse(&text).unwrap().object().unwrap();
        let target = target("m", "m#deepseek", "deepseek");
        let (_, answer) = RESPONSES.to_chat(&object, &target).unwrap();
        let completion = json!({"id": "x", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Summary.", "reasoning_content": "Hmm."}}]});
        let bytes = completion.to_string();
        let whole =
            answer.whole(&crate::translate::chat::completion::Completion::parse(bytes.as_bytes()).unwrap());
        assert_eq!(
            whole["output"],
            json!([{"type": "compaction", "id": whole["output"][0]["id"],
                                             "encrypted_content": seal("Summary.")}])
        );
    }

    #[test]
    fn a_sealed_summary_comes_back_as_context_and_nothing_else_does() {
        let sealed = seal("Wrote a.txt; next: b.txt.");
        assert_eq!(context(&sealed).unwrap(), format!("{CONTEXT}Wrote a.txt; next: b.txt."));
        assert_eq!(context("gAAAAABo-openai-encrypted"), None);
        assert_eq!(context(""), None);
    }
}
