//! Reports of several requests sent together: the calls of each logstore
//! merged into one, `{"points":[P1,P2,…]}` and `{"logs":[L1,L2,…]}`, the
//! arrays aepipe takes. A host whose requests share memory (a Worker isolate)
//! can gather its reports for a moment and make two calls for many requests
//! instead of two per request.

use super::AepipeCall;

/// How long a request's reports wait for others to travel with them: each
/// aepipe call costs a Worker about 0.25 ms of CPU (scripts/bench.sh), so two
/// calls for the requests that end within this time beat two per request.
pub const WINDOW_MS: f64 = 50.0;

/// At most this many requests' reports travel in one call.
pub const MAX_REQUESTS: usize = 50;

/// A batch is sent once its calls hold this many bytes, and a call's body
/// grows past it only with its first entry: a batch holds at most about this
/// much plus one request's reports.
pub const MAX_BYTES: usize = 1024 * 1024;

/// The calls gathered so far: one per logstore, each holding the entries of
/// every request added since the last [`Batch::take`].
#[derive(Debug, Default)]
pub struct Batch {
    calls: Vec<AepipeCall>,
    /// Requests added since the last take.
    requests: usize,
}

impl Batch {
    /// Adds one request's calls; whether the batch is now full and should be
    /// sent at once rather than at the end of its wait.
    pub fn add(&mut self, calls: Vec<AepipeCall>) -> bool {
        self.requests += 1;
        for call in calls {
            let same = self.calls.iter_mut().find(|c| c.url == call.url && c.headers == call.headers);
            match same.and_then(|into| entries(&call.body).filter(|_| fits(into, &call)).map(|e| (into, e))) {
                Some((into, entries)) => {
                    // `into` ends with `]}`: its array goes on with these entries.
                    into.body.truncate(into.body.len() - 2);
                    into.body.push(b',');
                    into.body.extend_from_slice(entries);
                    into.body.extend_from_slice(b"]}");
                }
                None => self.calls.push(call),
            }
        }
        self.requests >= MAX_REQUESTS || self.calls.iter().map(|c| c.body.len()).sum::<usize>() >= MAX_BYTES
    }

    /// Adds one request's calls: in how many ms this request should send the
    /// batch ([`Batch::take`]); `None` when another request sends it. The
    /// first of a batch waits [`WINDOW_MS`]; a full batch goes at once.
    pub fn gather(&mut self, calls: Vec<AepipeCall>) -> Option<f64> {
        if calls.is_empty() {
            return None;
        }
        let first = self.calls.is_empty();
        match (self.add(calls), first) {
            (true, _) => Some(0.0),
            (false, true) => Some(WINDOW_MS),
            (false, false) => None,
        }
    }

    /// The calls to send now; the batch starts again empty.
    pub fn take(&mut self) -> Vec<AepipeCall> {
        self.requests = 0;
        std::mem::take(&mut self.calls)
    }
}

/// Whether `call`'s entries may join `into` without passing the size cap.
fn fits(into: &AepipeCall, call: &AepipeCall) -> bool {
    into.body.len() + call.body.len() <= MAX_BYTES && entries(&into.body).is_some()
}

/// The entries of a `{"name":[…]}` body, without the brackets; `None` for a
/// body of any other shape (it is then sent on its own) or an empty array.
fn entries(body: &[u8]) -> Option<&[u8]> {
    let open = body.iter().position(|b| *b == b'[')?;
    let inner = body.strip_suffix(b"]}")?.get(open + 1..)?;
    let head = &body[..open];
    let named =
        head.starts_with(b"{\"") && head.ends_with(b"\":") && !head[2..head.len() - 2].contains(&b'"');
    (named && !inner.is_empty()).then_some(inner)
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use serde_json::{Value, json};

    use super::*;

    fn call(url: &str, body: Value) -> AepipeCall {
        AepipeCall { url: url.into(), headers: HeaderMap::new(), body: serde_json::to_vec(&body).unwrap() }
    }

    fn json(call: &AepipeCall) -> Value {
        serde_json::from_slice(&call.body).unwrap()
    }

    #[test]
    fn the_entries_of_each_logstore_join_one_array() {
        let mut batch = Batch::default();
        for n in 0..3 {
            let full = batch.add(vec![
                call("/points", json!({"points": [{"n": n, "blobs": ["a]}", "[b"]}]})),
                call("/raw", json!({"logs": [{"n": n, "message": "x\"]}"}]})),
            ]);
            assert!(!full);
        }
        let calls = batch.take();
        assert_eq!(calls.len(), 2);
        assert_eq!(json(&calls[0])["points"].as_array().unwrap().len(), 3);
        assert_eq!(json(&calls[0])["points"][2], json!({"n": 2, "blobs": ["a]}", "[b"]}));
        assert_eq!(json(&calls[1])["logs"][1]["message"], "x\"]}");
        assert!(batch.take().is_empty());
    }

    #[test]
    fn the_first_request_of_a_batch_sends_it_after_the_window() {
        let mut batch = Batch::default();
        assert_eq!(batch.gather(Vec::new()), None, "nothing to send");
        assert_eq!(batch.gather(vec![call("/points", json!({"points": [1]}))]), Some(WINDOW_MS));
        assert_eq!(
            batch.gather(vec![call("/points", json!({"points": [2]}))]),
            None,
            "the first one sends it"
        );
        batch.take();
        for n in 1..MAX_REQUESTS {
            batch.gather(vec![call("/points", json!({"points": [n]}))]);
        }
        assert_eq!(batch.gather(vec![call("/points", json!({"points": [0]}))]), Some(0.0), "full: at once");
    }

    #[test]
    fn a_body_of_another_shape_travels_alone() {
        let mut batch = Batch::default();
        batch.add(vec![call("/points", json!({"points": [1]}))]);
        batch.add(vec![call("/points", json!({"other": 1}))]);
        batch.add(vec![call("/points", json!({"points": []}))]);
        batch.add(vec![call("/points", json!({"points": [2]}))]);
        let calls = batch.take();
        let bodies: Vec<Value> = calls.iter().map(json).collect();
        assert_eq!(bodies, [json!({"points": [1, 2]}), json!({"other": 1}), json!({"points": []})]);
    }

    #[test]
    fn a_batch_is_full_at_its_request_or_size_cap() {
        let mut batch = Batch::default();
        for n in 1..MAX_REQUESTS {
            assert!(!batch.add(vec![call("/points", json!({"points": [n]}))]));
        }
        assert!(batch.add(vec![call("/points", json!({"points": [0]}))]));
        assert_eq!(json(&batch.take()[0])["points"].as_array().unwrap().len(), MAX_REQUESTS);
        let big = "x".repeat(MAX_BYTES / 2);
        assert!(!batch.add(vec![call("/raw", json!({"logs": [big]}))]));
        // A second entry would pass the cap: it starts a call of its own, and
        // the batch is full.
        assert!(batch.add(vec![call("/raw", json!({"logs": [big]}))]));
        assert_eq!(batch.take().len(), 2);
        assert!(batch.add(vec![call("/raw", json!({"logs": ["x".repeat(MAX_BYTES)]}))]));
    }

    #[test]
    fn calls_to_other_places_stay_apart() {
        let mut batch = Batch::default();
        batch.add(vec![call("/a", json!({"points": [1]}))]);
        batch.add(vec![call("/b", json!({"points": [2]}))]);
        assert_eq!(batch.take().len(), 2);
    }
}
