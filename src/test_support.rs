//! Builders shared by the core's unit tests.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use http::Request;
use http::request::Parts;

use crate::config::Config;
use crate::response::Reply;
use crate::routing::{Forward, ForwardBody, Step, plan};

/// A config from `NAME=value` pairs.
pub fn config(pairs: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

/// A request head.
pub fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(()).unwrap().into_parts().0
}

/// Plans a request to the end, feeding `body` when the plan asks for it.
pub fn run(cfg: &Config, head: &Parts, body: &[u8]) -> Result<Forward, Reply> {
    match plan(cfg, head) {
        Step::Respond(reply) => Err(reply),
        Step::Forward(forward) => Ok(*forward),
        Step::NeedBody(need) => need.with_body(cfg, body.to_vec()),
    }
}

/// The forwarded body bytes.
pub fn body_bytes(forward: &Forward) -> &[u8] {
    match &forward.body {
        ForwardBody::Bytes(b) => b,
        ForwardBody::StreamClient { .. } => panic!("body is streamed"),
    }
}

/// A reply's JSON body.
pub fn reply_json(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(reply.body()).unwrap()
}
