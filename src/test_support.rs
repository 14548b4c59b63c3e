//! What the core's unit tests share: a configuration, a request head, and a
//! request planned through to what goes upstream.

use std::collections::HashMap;

use http::Request;
use http::request::Parts;

use crate::config::Config;
use crate::plan::{Forward, Reply, Upload};
use crate::route::{Plan, plan};

/// A translation target: `model` in the upstream body, `client_model` as the
/// client sent it, on the provider named `provider`.
pub fn target<'t>(model: &str, client_model: &'t str, provider: &str) -> crate::translate::Target<'t> {
    let provider = crate::providers::Provider::named(provider).unwrap_or(&crate::providers::PROVIDERS[0]);
    crate::translate::Target { model: model.to_owned(), client_model, provider }
}

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
        Plan::ReadBody(pending) => pending.with_body(cfg, body.to_vec()).map(|(forward, _)| forward),
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

/// How much longer `work(10 n)` takes than `work(n)` (the best of three runs
/// each): about 10 for work linear in `n`, about 100 for quadratic work. A
/// ratio, so a slow or busy machine does not change the verdict.
pub fn growth(n: usize, work: impl Fn(usize)) -> f64 {
    let best = |n: usize| {
        (0..3)
            .map(|_| {
                let start = std::time::Instant::now();
                work(n);
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    best(10 * n) / best(n).max(1e-6)
}

/// [`growth`] of `translate` over the bodies `body(n)` of 2,000 and 20,000
/// items, each parsed once beforehand (the translation is what is timed).
pub fn body_growth(
    body: impl Fn(usize) -> serde_json::Value,
    translate: impl Fn(&crate::json::Object, usize),
) -> f64 {
    let bodies: Vec<(usize, String)> = [2_000, 20_000].map(|n| (n, body(n).to_string())).into();
    growth(2_000, |n| {
        let text = &bodies.iter().find(|(m, _)| *m == n).map(|(_, text)| text.as_str()).unwrap_or_default();
        let object =
            crate::json::Json::parse(text).ok().and_then(crate::json::Json::object).unwrap_or_default();
        translate(&object, n);
    })
}
