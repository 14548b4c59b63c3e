//! The aepipe calls an instance has sent and has not seen answered yet
//! (docs/operations.md, "Observability (aepipe)").
//!
//! On a host that reuses its instances (wasmtime serve with the shipped
//! flags), a request's reports need not hold its instance after the answer:
//! the calls go out, and their answers are collected while the instance
//! serves its next requests. So a slow aepipe never makes a host start more
//! instances than it has clients. A backlog has room for a number of calls
//! (the host's descriptors decide how many); past that a request waits up to
//! [`GRACE_MS`] for the oldest, then drops them (their calls abandoned),
//! counted and said on the log at the first drop and at every power of two.

use std::collections::VecDeque;

use http::StatusCode;

use super::delivery;
use crate::failure::{FailureKind, UpstreamFailure};

/// The most calls a backlog holds: 32 requests'.
pub const MAX_ROOM: usize = 64;

/// How long a request may wait, after its answer, for older calls when its
/// instance's backlog is over its room: long enough that an aepipe slowed by
/// a busy machine still answers (100 ms lost reports under the test suite's
/// load), short enough that an instance is back within a second, so a pool
/// sized for the clients holds up to about its size in requests per second.
pub const GRACE_MS: f64 = 1000.0;

/// Calls of type `T` (the host's handle on a call) waiting for an answer.
#[derive(Debug)]
pub struct Backlog<T> {
    waiting: VecDeque<Waiting<T>>,
    room: usize,
    dropped: u64,
}

#[derive(Debug)]
struct Waiting<T> {
    call: T,
    url: String,
    /// When it gives up, in the host's ms.
    by: f64,
}

impl<T> Backlog<T> {
    /// A backlog with room for `room` calls (at least 2, one request's; at
    /// most [`MAX_ROOM`]).
    pub fn new(room: usize) -> Self {
        Backlog { waiting: VecDeque::new(), room: room.clamp(2, MAX_ROOM), dropped: 0 }
    }

    /// A call to `url` that was sent and is given until `by` (ms).
    pub fn add(&mut self, call: T, url: &str, by: f64) {
        self.waiting.push_back(Waiting { call, url: url.to_owned(), by });
    }

    /// The calls to wait for before [`Backlog::settle`] and
    /// [`Backlog::trim`], each with the time (ms) to wait until: when `last`
    /// (the instance ends after this request) every call, until its own
    /// time; else the oldest beyond the room, for at most [`GRACE_MS`] (a
    /// fast aepipe has answered by then).
    pub fn deadlines(&self, last: bool, now: f64) -> impl Iterator<Item = (&T, f64)> {
        let over = if last { self.waiting.len() } else { self.waiting.len().saturating_sub(self.room) };
        let until = move |by: f64| if last { by } else { by.min(now + GRACE_MS) };
        self.waiting.iter().take(over).map(move |w| (&w.call, until(w.by)))
    }

    /// Drops the oldest calls beyond the room (abandoned, counted): a log
    /// line at the first drop and at every power of two.
    fn trim(&mut self) -> Option<String> {
        let mut line = None;
        while self.waiting.len() > self.room {
            self.waiting.pop_front();
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                line = Some(format!(
                    "apex-ai-proxy: aepipe answers slower than requests end: {} report calls dropped so far \
                     (at most {} wait per instance)",
                    self.dropped, self.room
                ));
            }
        }
        line
    }

    /// Settles every call that has an answer (`outcome` of the call, `None`
    /// while it has none) or is past its time at `now`, then drops the oldest
    /// beyond the room: the log lines of those not taken and of the drops.
    pub fn settle(
        &mut self,
        now: f64,
        mut outcome: impl FnMut(&T) -> Option<Result<StatusCode, UpstreamFailure>>,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        self.waiting.retain(|w| {
            let result = match outcome(&w.call) {
                Some(result) => result,
                None if now >= w.by => {
                    Err(UpstreamFailure::new(FailureKind::ResponseTimeout, "no answer in time"))
                }
                None => return true,
            };
            lines.extend(delivery(&w.url, result));
            false
        });
        lines.extend(self.trim());
        lines
    }

    /// The calls still waiting.
    pub fn waiting(&self) -> impl Iterator<Item = &T> {
        self.waiting.iter().map(|w| &w.call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_its_room_a_backlog_waits_a_moment_then_drops_the_oldest() {
        let mut backlog = Backlog::new(8);
        (0..8 + 5).for_each(|n| backlog.add(n, "http://a/x", 5000.0));
        let until: Vec<(i32, f64)> = backlog.deadlines(false, 10.0).map(|(n, t)| (*n, t)).collect();
        assert_eq!(
            until,
            [0, 1, 2, 3, 4].map(|n| (n, 10.0 + GRACE_MS)),
            "the oldest beyond the room, a moment"
        );
        let line = backlog.trim().unwrap();
        assert!(line.contains("4 report calls dropped"), "said at 1, 2 and 4, the last of them: {line}");
        assert_eq!(backlog.waiting().next(), Some(&5), "the oldest went");
        let all: Vec<f64> = backlog.deadlines(true, 10.0).map(|(_, t)| t).collect();
        assert_eq!(all, [5000.0; 8], "the last request waits for all, until their time");
        assert_eq!(backlog.trim(), None);
    }

    #[test]
    fn settled_calls_leave_and_late_ones_are_said() {
        let mut backlog = Backlog::new(3);
        backlog.add(1, "http://a/ok", 10.0);
        backlog.add(2, "http://a/bad", 10.0);
        backlog.add(3, "http://a/slow", 10.0);
        let answer = |n: &i32| match n {
            1 => Some(Ok(StatusCode::OK)),
            2 => Some(Ok(StatusCode::INTERNAL_SERVER_ERROR)),
            _ => None,
        };
        let lines = backlog.settle(5.0, answer);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("http://a/bad answered 500"));
        assert_eq!(backlog.waiting().count(), 1, "the slow one waits on");
        let lines = backlog.settle(10.0, answer);
        assert!(lines[0].contains("http://a/slow failed"), "{lines:?}");
        assert_eq!(backlog.waiting().count(), 0);
    }
}
