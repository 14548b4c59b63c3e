//! Sends the aepipe calls after the response: all started before any is awaited
//! (independent of each other), all bounded by one deadline that covers the
//! connection, the TLS handshake and the answer; a failure, timeout or non-2xx
//! writes one line to the host log and is dropped.

use std::time::Duration;

use http::{Method, Uri};
use wasi::http::types::FutureIncomingResponse;

use super::io::{start_request, status_of, wait_response};
use super::wait::{Deadline, write_all};
use crate::config::Timeouts;
use crate::failure::{FailureKind, UpstreamFailure, denied_hint, origin_of};
use crate::report::AepipeCall;

const REPORT_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(2),
    first_byte: Duration::from_secs(5),
    between_bytes: Duration::from_secs(5),
};

pub fn send_all(calls: Vec<AepipeCall>) {
    let deadline = Deadline::after(REPORT_TIMEOUTS.connect + REPORT_TIMEOUTS.first_byte);
    let started: Vec<_> = calls.into_iter().map(|call| (call.url.clone(), start(call, deadline))).collect();
    for (url, pending) in started {
        let outcome = pending.and_then(|(future, uri)| {
            wait_response(future, deadline).map_err(|failure| log_failure(&failure, &uri))
        });
        match outcome {
            Ok(response) if (200..300).contains(&response.status()) => {}
            Ok(response) => {
                eprintln!("apex-ai-proxy: aepipe report to {url} answered {}", status_of(&response))
            }
            Err(why) => eprintln!("apex-ai-proxy: aepipe report to {url} failed: {why}"),
        }
    }
}

/// A failure in words for the host log; a denied connection says what to allow.
fn log_failure(failure: &UpstreamFailure, uri: &Uri) -> String {
    match failure.kind {
        FailureKind::Denied => format!("{failure} ({})", denied_hint(&origin_of(uri))),
        _ => failure.to_string(),
    }
}

fn start(call: AepipeCall, deadline: Deadline) -> Result<(FutureIncomingResponse, Uri), String> {
    let uri: Uri = call.url.parse().map_err(|e| format!("AEPIPE_BASE_URL gives an invalid URL: {e}"))?;
    let mut headers = call.headers;
    headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(call.body.len()));
    let (future, body) = start_request(&Method::POST, &uri, &headers, REPORT_TIMEOUTS)
        .map_err(|failure| log_failure(&failure, &uri))?;
    write_all(&body.stream, &call.body, deadline, Some(&future)).map_err(|stop| stop.to_string())?;
    body.finish()?;
    Ok((future, uri))
}
