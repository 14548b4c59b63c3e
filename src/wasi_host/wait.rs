//! Every wait of the WASI host, bounded: reads, writes and the response head
//! are polled together with a `wasi:clocks/monotonic-clock` timer, so nothing
//! the host runtime does (a TLS handshake that never ends, a peer that never
//! reads) can hold a request past its deadline.
//!
//! Pollables are children of the resource they watch: each is dropped right
//! after its `poll`, before its parent can be.

use std::fmt;
use std::time::Duration;

use wasi::clocks::monotonic_clock::{self, Instant};
use wasi::http::types::{FutureIncomingResponse, IncomingResponse};
use wasi::io::poll::{Pollable, poll};
use wasi::io::streams::{InputStream, OutputStream, StreamError};

/// Size of one read from a body stream.
const CHUNK: u64 = 64 * 1024;

/// A point in time on the host's monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(duration: Duration) -> Deadline {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Deadline(monotonic_clock::now().saturating_add(nanos))
    }

    fn timer(self) -> Pollable {
        monotonic_clock::subscribe_instant(self.0)
    }

    /// The earlier of this deadline and `duration` from now.
    fn or_within(self, duration: Duration) -> Deadline {
        let soon = Deadline::after(duration);
        if soon.0 < self.0 { soon } else { self }
    }

    fn passed(self) -> bool {
        monotonic_clock::now() >= self.0
    }
}

/// Waits for `ready` or the deadline; `true` when `ready` fired.
fn wait(ready: &Pollable, deadline: Deadline) -> bool {
    let timer = deadline.timer();
    poll(&[ready, &timer]).contains(&0)
}

/// Why a read gave no data.
#[derive(Debug)]
pub enum ReadStop {
    /// The stream ended normally.
    End,
    /// No byte arrived by the deadline.
    TimedOut,
    /// The stream failed; in plain words, for the log.
    Failed(String),
    /// `alive` said the other side is gone.
    Abandoned,
}

/// The next chunk of `stream`, by `deadline`. While it waits, `alive` is asked
/// every `every` (`false` stops the wait: the party the data is for is gone).
pub fn read_chunk(
    stream: &InputStream,
    deadline: Deadline,
    every: Duration,
    alive: &mut dyn FnMut() -> bool,
) -> Result<Vec<u8>, ReadStop> {
    loop {
        match stream.read(CHUNK) {
            Ok(bytes) if !bytes.is_empty() => return Ok(bytes),
            Ok(_) => {}
            Err(StreamError::Closed) => return Err(ReadStop::End),
            Err(StreamError::LastOperationFailed(e)) => return Err(ReadStop::Failed(words_of(&e))),
        }
        let ready = stream.subscribe();
        if !wait(&ready, deadline.or_within(every)) {
            if deadline.passed() {
                return Err(ReadStop::TimedOut);
            }
            if !alive() {
                return Err(ReadStop::Abandoned);
            }
        }
    }
}

/// The next chunk of `stream` by `deadline`, with no one else to watch.
pub fn read_by(stream: &InputStream, deadline: Deadline) -> Result<Vec<u8>, ReadStop> {
    read_chunk(stream, deadline, Duration::from_secs(3600), &mut || true)
}

/// Why a write did not complete.
#[derive(Debug)]
pub enum WriteStop {
    TimedOut,
    /// The stream failed or was closed by the reader; in plain words.
    Failed(String),
    /// The upstream answered while its request body was still being written.
    Answered,
}

impl fmt::Display for ReadStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadStop::End => f.write_str("ended"),
            ReadStop::TimedOut => f.write_str("timed out"),
            ReadStop::Failed(why) => write!(f, "failed: {why}"),
            ReadStop::Abandoned => f.write_str("abandoned: the client hung up"),
        }
    }
}

impl fmt::Display for WriteStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteStop::TimedOut => f.write_str("timed out"),
            WriteStop::Failed(why) => write!(f, "failed: {why}"),
            WriteStop::Answered => f.write_str("the upstream answered first"),
        }
    }
}

/// Writes all of `bytes` and flushes, by `deadline`. With `answer`, stops as
/// soon as that response arrives (the upstream answered early). A stream the
/// reader closes once every byte was handed over is not a failure: Spin closes
/// a response body as soon as its declared length has been written.
pub fn write_all(
    stream: &OutputStream,
    mut bytes: &[u8],
    deadline: Deadline,
    answer: Option<&FutureIncomingResponse>,
) -> Result<(), WriteStop> {
    let failed = |e: StreamError| match e {
        StreamError::Closed => WriteStop::Failed("closed by the reader".into()),
        StreamError::LastOperationFailed(e) => WriteStop::Failed(words_of(&e)),
    };
    let mut flushed = false;
    loop {
        let room = match stream.check_write() {
            Err(StreamError::Closed) if bytes.is_empty() => return Ok(()),
            room => room.map_err(failed)?,
        };
        if room > 0 {
            if bytes.is_empty() {
                if flushed {
                    return Ok(());
                }
                match stream.flush() {
                    Err(StreamError::Closed) => return Ok(()),
                    flush => flush.map_err(failed)?,
                }
                flushed = true;
                continue;
            }
            let n = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            stream.write(&bytes[..n]).map_err(failed)?;
            bytes = &bytes[n..];
            continue;
        }
        let ready = stream.subscribe();
        let timer = deadline.timer();
        let fired = match answer.map(FutureIncomingResponse::subscribe) {
            Some(answered) => {
                let fired = poll(&[&ready, &timer, &answered]);
                if fired.contains(&2) {
                    return Err(WriteStop::Answered);
                }
                fired
            }
            None => poll(&[&ready, &timer]),
        };
        if !fired.contains(&0) && deadline.passed() {
            return Err(WriteStop::TimedOut);
        }
    }
}

/// The response head, by `deadline`; `None` when the deadline passed first.
/// Dropping the future (as the caller then does) abandons the request.
pub fn response_by(
    future: &FutureIncomingResponse,
    deadline: Deadline,
) -> Option<Result<Result<IncomingResponse, wasi::http::types::ErrorCode>, ()>> {
    loop {
        if let Some(result) = future.get() {
            return Some(result);
        }
        let ready = future.subscribe();
        if !wait(&ready, deadline) && deadline.passed() {
            return None;
        }
    }
}

/// `true` while a client's response stream is open (a client that hung up
/// makes it report closed).
pub fn client_alive(stream: &OutputStream) -> bool {
    stream.check_write().is_ok()
}

/// A stream error in plain words: the HTTP error it carries, if any, as the
/// core names it (never the runtime's enum name).
fn words_of(error: &wasi::io::error::Error) -> String {
    match wasi::http::types::http_error_code(error) {
        Some(code) => super::io::kind_of(&code).words().to_owned(),
        None => "the stream failed".to_owned(),
    }
}
