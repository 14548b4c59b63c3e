//! What the core's unit tests share: a configuration, a request head, and a
//! request planned through to what goes upstream.

use std::collections::HashMap;

use http::Request;
use http::request::Parts;

use crate::config::Config;
use crate::plan::{Forward, Reply, Upload};
use crate::route::{Plan, plan};

/// A configuration from name/value pairs.
pub fn config(pairs: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

/// A request head.
pub fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

/// Plans a request with its whole body: what goes upstream, or the answer.
#[allow(clippy::result_large_err)]
pub fn run(cfg: &Config, head: &Parts, body: &[u8]) -> Result<Forward, Reply> {
    match plan(cfg, head) {
        Plan::Respond(reply) => Err(reply),
        Plan::Forward(forward) => Ok(*forward),
        Plan::ReadBody(pending) => pending.with_body(cfg, body.to_vec()),
    }
}

/// The upstream body of a planned request (empty when it streams the client's).
pub fn body_bytes(forward: &Forward) -> &[u8] {
    match &forward.request.body {
        Upload::Bytes(bytes) => bytes,
        Upload::Client => &[],
    }
}

/// A reply's body as JSON.
pub fn reply_json(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(reply.body()).unwrap()
}
