//! What gateway mode answers itself: the models list (`GATEWAY_MODELS`) and
//! `count_tokens` estimates for providers that cannot count.

use http::StatusCode;
use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use serde_json::json;

use super::endpoint::Endpoint;
use crate::config::Config;
use crate::errors::ProxyError;
use crate::json::quoted;
use crate::plan::{Reply, error_reply, json_reply};
use crate::translate::gemini;

/// Anthropic's default page size for the models list.
const DEFAULT_PAGE: usize = 20;
/// Models have no creation date here; Anthropic's shape needs one.
const NO_DATE: &str = "1970-01-01T00:00:00Z";
/// The header that marks a token count as an estimate.
pub const ESTIMATE_HEADER: &str = "x-apex-ai-proxy-token-count";

/// `GET …/models` (or `…/models/{id}`): the deployment's `GATEWAY_MODELS`, in
/// OpenAI's list shape, or Anthropic's when the client sends `anthropic-version`.
pub fn models(cfg: &Config, head: &Parts, id: Option<&str>) -> Reply {
    let shape = Endpoint::Models { id: None }.shape(&head.headers);
    if gemini::is_client(&head.headers) {
        return gemini_models(cfg, head, id, shape);
    }
    let anthropic = head.headers.contains_key("anthropic-version");
    let object = |model: &str| match anthropic {
        true => json!({"type": "model", "id": model, "display_name": model, "created_at": NO_DATE}),
        false => {
            let owner = model.split_once('#').map_or("", |(_, provider)| provider);
            json!({"id": model, "object": "model", "created": 0, "owned_by": owner})
        }
    };
    let all = &cfg.gateway_models;
    if let Some(id) = id {
        return match all.iter().find(|m| *m == id) {
            Some(model) => json_reply(StatusCode::OK, object(model).to_string().into_bytes()),
            None => error_reply(
                &ProxyError::NotFound(format!("model {} is not in this proxy's GATEWAY_MODELS", quoted(id))),
                shape,
            ),
        };
    }
    let body = match anthropic {
        false => json!({"object": "list", "data": all.iter().map(|m| object(m)).collect::<Vec<_>>()}),
        true => {
            let query = Query::parse(head.uri.query().unwrap_or_default());
            let (page, has_more) = query.page(all);
            json!({
                "data": page.iter().map(|m| object(m)).collect::<Vec<_>>(),
                "has_more": has_more,
                "first_id": page.first(),
                "last_id": page.last(),
            })
        }
    };
    json_reply(StatusCode::OK, body.to_string().into_bytes())
}

/// The models list as the Gemini API gives it: `{"models": [{name, …}],
/// "nextPageToken"}`, paged by `pageSize` (default 50) and `pageToken`; names
/// in the `model@provider` spelling a Gemini client can put in a path.
fn gemini_models(cfg: &Config, head: &Parts, id: Option<&str>, shape: crate::errors::Shape) -> Reply {
    let object = |model: &str| {
        json!({"name": format!("models/{}", gemini::path_spelling(model)), "displayName": model,
               "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]})
    };
    let all = &cfg.gateway_models;
    if let Some(id) = id {
        let wanted = gemini::model_in_path(&format!("/models/{id}")).unwrap_or_default();
        return match all.iter().find(|m| **m == wanted) {
            Some(model) => json_reply(StatusCode::OK, object(model).to_string().into_bytes()),
            None => error_reply(
                &ProxyError::NotFound(format!("model {} is not in this proxy's GATEWAY_MODELS", quoted(id))),
                shape,
            ),
        };
    }
    let (mut size, mut start) = (50, 0);
    for pair in head.uri.query().unwrap_or_default().split('&') {
        match pair.split_once('=') {
            Some(("pageSize", n)) => size = n.parse::<usize>().unwrap_or(50).clamp(1, 1000),
            Some(("pageToken", n)) => start = n.parse::<usize>().unwrap_or(0).min(all.len()),
            _ => {}
        }
    }
    let end = (start + size).min(all.len());
    let mut body = json!({"models": all[start..end].iter().map(|m| object(m)).collect::<Vec<_>>()});
    if end < all.len() {
        body["nextPageToken"] = json!(end.to_string());
    }
    json_reply(StatusCode::OK, body.to_string().into_bytes())
}

/// Anthropic's list paging: `limit`, `after_id`, `before_id`.
#[derive(Debug, Default, PartialEq)]
struct Query {
    limit: Option<usize>,
    after_id: Option<String>,
    before_id: Option<String>,
}

impl Query {
    fn parse(query: &str) -> Query {
        let mut q = Query::default();
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned();
            match name {
                "limit" => q.limit = value.parse().ok(),
                "after_id" => q.after_id = Some(value),
                "before_id" => q.before_id = Some(value),
                _ => {}
            }
        }
        q
    }

    /// The page of `all` this query asks for, and whether more lie beyond it.
    fn page<'a>(&self, all: &'a [String]) -> (&'a [String], bool) {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, 1000);
        let position = |id: &str| all.iter().position(|m| m == id);
        if let Some(before) = &self.before_id {
            let end = position(before).unwrap_or(0);
            let start = end.saturating_sub(limit);
            return (&all[start..end], start > 0);
        }
        let start = match &self.after_id {
            Some(after) => position(after).map_or(all.len(), |i| i + 1),
            None => 0,
        };
        let end = (start + limit).min(all.len());
        (&all[start..end], end < all.len())
    }
}

/// A `count_tokens` answer that is an estimate, marked as one.
pub fn token_estimate(answer: serde_json::Value) -> Reply {
    let mut reply = json_reply(StatusCode::OK, answer.to_string().into_bytes());
    reply
        .headers_mut()
        .insert(HeaderName::from_static(ESTIMATE_HEADER), HeaderValue::from_static("estimate"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{config, head};
    use serde_json::Value;

    fn list(query: &str, anthropic: bool) -> Value {
        let cfg = config(&[("GATEWAY_MODELS", "a#openai, b#deepseek ,bad,c#groq")]);
        let headers: &[(&str, &str)] = if anthropic { &[("anthropic-version", "2023-06-01")] } else { &[] };
        let reply = models(&cfg, &head("GET", &format!("/v1/models{query}"), headers), None);
        serde_json::from_slice(reply.body()).unwrap()
    }

    #[test]
    fn openai_shape() {
        let out = list("", false);
        assert_eq!(out["object"], "list");
        assert_eq!(
            out["data"][1],
            json!({"id": "b#deepseek", "object": "model", "created": 0, "owned_by": "deepseek"})
        );
        assert_eq!(out["data"].as_array().unwrap().len(), 3, "entries without a provider are skipped");
    }

    #[test]
    fn anthropic_shape_and_paging() {
        let out = list("", true);
        assert_eq!(
            out["data"][0],
            json!({"type": "model", "id": "a#openai", "display_name": "a#openai", "created_at": NO_DATE})
        );
        assert_eq!(
            (out["has_more"].clone(), out["first_id"].clone(), out["last_id"].clone()),
            (json!(false), json!("a#openai"), json!("c#groq"))
        );
        let page = list("?limit=1&after_id=a%23openai", true);
        assert_eq!(page["data"].as_array().unwrap().len(), 1);
        assert_eq!((page["first_id"].clone(), page["has_more"].clone()), (json!("b#deepseek"), json!(true)));
        let back = list("?before_id=c%23groq&limit=1", true);
        assert_eq!((back["first_id"].clone(), back["has_more"].clone()), (json!("b#deepseek"), json!(true)));
        let empty = list("?after_id=c%23groq", true);
        assert_eq!((empty["first_id"].clone(), empty["has_more"].clone()), (Value::Null, json!(false)));
    }

    #[test]
    fn unset_is_empty_and_retrieve_finds_one() {
        let reply = models(&config(&[]), &head("GET", "/v1/models", &[]), None);
        assert_eq!(
            serde_json::from_slice::<Value>(reply.body()).unwrap(),
            json!({"object": "list", "data": []})
        );
        let cfg = config(&[("GATEWAY_MODELS", "a#openai")]);
        assert_eq!(models(&cfg, &head("GET", "/v1/models/a%23openai", &[]), Some("a#openai")).status(), 200);
        let missing = models(&cfg, &head("GET", "/v1/models/x", &[("anthropic-version", "1")]), Some("x"));
        assert_eq!(missing.status(), 404);
        assert_eq!(
            serde_json::from_slice::<Value>(missing.body()).unwrap()["error"]["type"],
            "not_found_error"
        );
    }
}
