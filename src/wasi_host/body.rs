//! The body loops of the WASI host: the client's body in, the upstream's
//! request body out, the upstream's response body through a sink. Each wait is
//! bounded by a [`Deadline`].

use std::time::Duration;

use wasi::http::types::{FutureIncomingResponse, IncomingBody, IncomingRequest, IncomingResponse};
use wasi::io::streams::InputStream;

use super::io::UpstreamBody;
use super::wait::{Deadline, ReadStop, WriteStop, read_by, read_chunk, write_all};
use crate::routing::ForwardBody;

/// Why the client's body could not be read.
pub enum BodyError {
    TooLarge,
    /// The runtime's words, for the log.
    Failed(String),
}

/// Reads the client's whole body, stopping as soon as it passes `limit` bytes;
/// the client may stall at most `stall` between two chunks.
pub fn read_client(
    request: &IncomingRequest,
    declared: Option<u64>,
    limit: usize,
    stall: Duration,
) -> Result<Vec<u8>, BodyError> {
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let body = request.consume().map_err(|()| BodyError::Failed("body already consumed".into()))?;
    let stream = body.stream().map_err(|()| BodyError::Failed("body stream unavailable".into()))?;
    // Room for the declared length at once: growing by doubling would hold
    // up to twice a big body (the old and the new buffer) while it grows.
    let mut bytes = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    loop {
        match read_by(&stream, Deadline::after(stall)) {
            Ok(chunk) if bytes.len() + chunk.len() > limit => return Err(BodyError::TooLarge),
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(ReadStop::End) => return Ok(bytes),
            Err(stop) => return Err(BodyError::Failed(stop.to_string())),
        }
    }
}

/// Why the upstream request body was not sent whole.
pub enum SendError {
    TooLarge {
        limit: usize,
    },
    /// The client's body failed or stalled: the upstream request is abandoned.
    Client(String),
    /// The upstream did not take the body by the deadline.
    TimedOut,
    /// Writing failed; the runtime's words.
    Upstream(String),
    /// The upstream answered before taking the whole body.
    Answered,
}

impl From<WriteStop> for SendError {
    fn from(stop: WriteStop) -> Self {
        match stop {
            WriteStop::TimedOut => SendError::TimedOut,
            WriteStop::Failed(why) => SendError::Upstream(why),
            WriteStop::Answered => SendError::Answered,
        }
    }
}

/// Writes the upstream body by `deadline`: the planned bytes, or the client's
/// body streamed (at most `limit` bytes, each chunk shown to `tap`), then
/// finishes it. On any error the body is dropped unfinished, so the upstream
/// never receives a truncated body as a complete one.
pub fn send(
    body: &ForwardBody,
    request: &IncomingRequest,
    upstream: UpstreamBody,
    answer: &FutureIncomingResponse,
    deadline: Deadline,
    stall: Duration,
    mut tap: impl FnMut(&[u8]),
) -> Result<(), SendError> {
    match body {
        ForwardBody::Bytes(bytes) => write_all(&upstream.stream, bytes, deadline, Some(answer))?,
        ForwardBody::StreamClient { limit } => {
            let client = request.consume().map_err(|()| SendError::Client("body already consumed".into()))?;
            let input = client.stream().map_err(|()| SendError::Client("body stream unavailable".into()))?;
            let mut sent = 0usize;
            loop {
                let chunk = match read_by(&input, Deadline::after(stall)) {
                    Ok(chunk) => chunk,
                    Err(ReadStop::End) => break,
                    Err(stop) => return Err(SendError::Client(stop.to_string())),
                };
                sent += chunk.len();
                tap(&chunk);
                if sent > *limit {
                    return Err(SendError::TooLarge { limit: *limit });
                }
                write_all(&upstream.stream, &chunk, deadline, Some(answer))?;
            }
        }
    }
    upstream.finish().map_err(SendError::Upstream)
}

/// Why a response body stopped before its end.
#[derive(Debug)]
pub enum Stop {
    /// The upstream failed or went silent longer than the idle limit.
    Upstream(String),
    /// The client hung up while the upstream was silent.
    ClientGone(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Upstream(why) | Stop::ClientGone(why) => f.write_str(why),
        }
    }
}

/// How often a silent upstream's client is checked for having hung up.
const CLIENT_CHECK: Duration = Duration::from_secs(1);

/// An upstream response body being read.
pub struct UpstreamStream {
    // Declared first so it is dropped before its parent body.
    stream: InputStream,
    _body: IncomingBody,
}

impl UpstreamStream {
    pub fn open(response: &IncomingResponse) -> Result<UpstreamStream, Stop> {
        let body = response.consume().map_err(|()| Stop::Upstream("response body consumed".into()))?;
        let stream = body.stream().map_err(|()| Stop::Upstream("response body stream".into()))?;
        Ok(UpstreamStream { stream, _body: body })
    }

    /// The next chunk, `None` at the end. The upstream may stay silent at most
    /// `idle`; meanwhile `alive` is asked whether the client is still there.
    pub fn next(&self, idle: Duration, alive: &mut dyn FnMut() -> bool) -> Result<Option<Vec<u8>>, Stop> {
        match read_chunk(&self.stream, Deadline::after(idle), CLIENT_CHECK, alive) {
            Ok(chunk) => Ok(Some(chunk)),
            Err(ReadStop::End) => Ok(None),
            Err(ReadStop::Abandoned) => Err(Stop::ClientGone("the client hung up".into())),
            Err(ReadStop::TimedOut) => {
                Err(Stop::Upstream(format!("silent for more than {} ms", idle.as_millis())))
            }
            Err(ReadStop::Failed(why)) => Err(Stop::Upstream(why)),
        }
    }

    /// Feeds every chunk to `sink` until the body ends or `sink` says `false`.
    pub fn pump(
        &self,
        idle: Duration,
        alive: &mut dyn FnMut() -> bool,
        mut sink: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), Stop> {
        while let Some(chunk) = self.next(idle, alive)? {
            if !sink(&chunk) {
                break;
            }
        }
        Ok(())
    }
}
