//! The access log: one line per request on the host's log (stderr on the WASI
//! host, `console.log` on Workers), after the response ended. Never a secret,
//! a body or a query string: method, path, mode, provider, model, status,
//! times, sizes, the request id, and which side failed and why.

use serde_json::json;

use super::Side;
use crate::config::{LogFormat, LogLevel, LogSettings};
use crate::gateway::fallback::Attempt;
use crate::plan::RouteInfo;

/// What a log line (and a report) says about a request.
pub struct View<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub info: &'a RouteInfo,
    pub status: u16,
    pub request_id: &'a str,
    pub duration_ms: f64,
    pub ttfb_ms: f64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub failed: Option<(Side, &'a str)>,
    /// `OPTIONS` or `/healthz`.
    pub routine: bool,
    /// Every model tried, when the request had fallbacks.
    pub attempts: &'a [Attempt],
}

impl View<'_> {
    /// An error: a status of 400 or more, or an upstream that failed.
    pub fn is_error(&self) -> bool {
        self.status >= 400 || matches!(self.failed, Some((Side::Upstream, _)))
    }
}

/// The log line for `view`, or `None` when `settings` leave it out.
pub fn line(settings: &LogSettings, view: &View, unix_ms: u64) -> Option<String> {
    let wanted = match settings.level {
        LogLevel::Off => false,
        LogLevel::Error => view.is_error(),
        LogLevel::Info => !view.routine,
        LogLevel::Debug => true,
    };
    if !wanted {
        return None;
    }
    let time = rfc3339(unix_ms);
    let i = view.info;
    let failure = view.failed.map(|(side, why)| (side.as_str(), why));
    Some(match settings.format {
        // Written field by field: the time first, then the fields in a fixed
        // order (a JSON object's order is free; a reader's eye is not).
        LogFormat::Json => {
            let fields = [
                ("time", json!(time)),
                ("method", json!(view.method)),
                ("path", json!(capped(view.path, PATH_CAP))),
                ("status", json!(view.status)),
                ("mode", json!(i.mode.as_str())),
                ("provider", json!(capped(&i.provider, FIELD_CAP))),
                ("model", json!(capped(&i.model, FIELD_CAP))),
                ("upstream_model", json!(capped(&i.upstream_model, FIELD_CAP))),
                ("upstream_host", json!(i.upstream_host)),
                ("ttfb_ms", json!(round(view.ttfb_ms))),
                ("duration_ms", json!(round(view.duration_ms))),
                ("request_bytes", json!(view.request_bytes)),
                ("response_bytes", json!(view.response_bytes)),
                ("request_id", json!(view.request_id)),
                ("failed_side", json!(failure.map(|(side, _)| side))),
                ("failure", json!(failure.map(|(_, why)| capped(why, PATH_CAP)))),
                ("attempts", json!(attempts(view.attempts))),
                ("unavailable_tools", json!(capped(&i.unavailable_tools, PATH_CAP))),
            ];
            let body: Vec<String> =
                fields.iter().map(|(name, value)| format!("\"{name}\":{value}")).collect();
            // serde_json leaves all but C0 controls raw: escape the rest too.
            json_escaped(&format!("{{{}}}", body.join(",")))
        }
        LogFormat::Text => {
            let model = match (i.model.is_empty(), i.upstream_model.is_empty() || i.upstream_model == i.model)
            {
                (true, _) => "-".to_owned(),
                (false, true) => token(&i.model, FIELD_CAP),
                (false, false) => {
                    format!("{}->{}", token(&i.model, FIELD_CAP), token(&i.upstream_model, FIELD_CAP))
                }
            };
            let mut line = format!(
                "{time} {} {} {} {} {} {model} ttfb={:.1}ms total={:.1}ms in={}B out={}B id={}",
                token(view.method, FIELD_CAP),
                token(view.path, PATH_CAP),
                view.status,
                i.mode.as_str(),
                token(&i.provider, FIELD_CAP),
                view.ttfb_ms,
                view.duration_ms,
                view.request_bytes,
                view.response_bytes,
                view.request_id,
            );
            if !view.attempts.is_empty() {
                line.push_str(&format!(" attempts={}", token(&attempts(view.attempts), PATH_CAP)));
            }
            if !i.unavailable_tools.is_empty() {
                line.push_str(&format!(" unavailable_tools={}", token(&i.unavailable_tools, PATH_CAP)));
            }
            if let Some((side, why)) = failure {
                line.push_str(&format!(" failed={side}: {}", escaped(&capped(why, PATH_CAP), false)));
            }
            line
        }
    })
}

/// The models tried, `model#provider:status,…` (a status of 0: no answer).
fn attempts(list: &[Attempt]) -> String {
    let each: Vec<String> = list.iter().map(|a| format!("{}:{}", a.model, a.status)).collect();
    each.join(",")
}

/// The longest model, provider or method a line shows, in bytes.
const FIELD_CAP: usize = 256;
/// The longest path or failure text a line shows, in bytes.
const PATH_CAP: usize = 1024;

/// One space-free field of a text line: `-` when empty, control characters
/// and spaces escaped (a client's model cannot start a forged line), cut at
/// `cap` bytes.
fn token(s: &str, cap: usize) -> String {
    if s.is_empty() { "-".to_owned() } else { escaped(&capped(s, cap), true) }
}

/// `s` cut at `cap` bytes (on a character boundary), marked with `…`.
fn capped(s: &str, cap: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= cap {
        return s.into();
    }
    let mut end = cap;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end]).into()
}

/// Format characters (Unicode category Cf): bidi controls, zero-width
/// characters and the like, which reorder or hide what a terminal shows.
const FORMAT_CHARS: [(char, char); 20] = [
    ('\u{AD}', '\u{AD}'),
    ('\u{600}', '\u{605}'),
    ('\u{61C}', '\u{61C}'),
    ('\u{6DD}', '\u{6DD}'),
    ('\u{70F}', '\u{70F}'),
    ('\u{890}', '\u{891}'),
    ('\u{8E2}', '\u{8E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E007F}'),
];

/// Whether `c` must never reach a log raw: a control (Cc), a format
/// character (Cf), or a line or paragraph separator (Zl, Zp).
pub fn unsafe_in_log(c: char) -> bool {
    c.is_control()
        || c == '\u{2028}'
        || c == '\u{2029}'
        || (c >= '\u{AD}' && FORMAT_CHARS.iter().any(|&(from, to)| (from..=to).contains(&c)))
}

/// A JSON line with every character [`unsafe_in_log`] as a `\uXXXX` escape
/// (they occur only inside its strings).
fn json_escaped(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if unsafe_in_log(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters [`unsafe_in_log`] (and with `spaces`, whitespace) as `\u{..}` escapes.
fn escaped(s: &str, spaces: bool) -> String {
    s.chars()
        .map(|c| match unsafe_in_log(c) || (spaces && c.is_whitespace()) {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// Milliseconds to three decimals, as the log and the reports show them.
pub fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// `unix_ms` as `2026-11-28T07:31:50.005Z`.
pub fn rfc3339(unix_ms: u64) -> String {
    let (secs, ms) = (unix_ms / 1000, unix_ms % 1000);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The calendar date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Mode;

    fn view<'a>(info: &'a RouteInfo, failed: Option<(Side, &'a str)>) -> View<'a> {
        View {
            method: "POST",
            path: "/v1/chat/completions",
            info,
            status: 200,
            request_id: "abc",
            duration_ms: 1503.24,
            ttfb_ms: 812.44,
            request_bytes: 273,
            response_bytes: 1532,
            failed,
            routine: false,
            attempts: &[],
        }
    }

    fn info() -> RouteInfo {
        RouteInfo {
            mode: Mode::Gateway,
            provider: "deepseek".into(),
            model: "deepseek-v4-pro#deepseek".into(),
            upstream_model: "deepseek/deepseek-v4-pro".into(),
            ..RouteInfo::default()
        }
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_851_109_943), "2026-11-28T07:31:49.943Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn text_and_json_lines() {
        let info = info();
        let settings = LogSettings::default();
        assert_eq!(
            line(&settings, &view(&info, None), 0).unwrap(),
            "1970-01-01T00:00:00.000Z POST /v1/chat/completions 200 gateway deepseek \
             deepseek-v4-pro#deepseek->deepseek/deepseek-v4-pro ttfb=812.4ms total=1503.2ms in=273B out=1532B id=abc"
        );
        let failed = line(&settings, &view(&info, Some((Side::Client, "the client hung up"))), 0).unwrap();
        assert!(failed.ends_with(" failed=client: the client hung up"), "{failed}");
        let json = LogSettings { format: LogFormat::Json, ..LogSettings::default() };
        let out: serde_json::Value =
            serde_json::from_str(&line(&json, &view(&info, None), 0).unwrap()).unwrap();
        assert_eq!(
            (out["status"].clone(), out["failed_side"].clone()),
            (json!(200), serde_json::Value::Null)
        );
    }

    #[test]
    fn tools_the_provider_could_not_be_given_are_said_in_both_formats() {
        let info = RouteInfo { unavailable_tools: "web_search,web_fetch".into(), ..info() };
        let text = line(&LogSettings::default(), &view(&info, None), 0).unwrap();
        assert!(text.ends_with(" id=abc unavailable_tools=web_search,web_fetch"), "{text}");
        let json = LogSettings { format: LogFormat::Json, ..LogSettings::default() };
        let out: serde_json::Value =
            serde_json::from_str(&line(&json, &view(&info, None), 0).unwrap()).unwrap();
        assert_eq!(out["unavailable_tools"], "web_search,web_fetch");
        let mut headers = http::HeaderMap::new();
        info.stamp(&mut headers);
        assert_eq!(headers["x-apex-ai-proxy-unavailable-tools"], "web_search,web_fetch");
    }

    #[test]
    fn a_client_cannot_forge_a_line() {
        let forged = RouteInfo { model: "m\n2026-01-01T00:00:00.000Z GET /admin 200".into(), ..info() };
        let text = line(&LogSettings::default(), &view(&forged, None), 0).unwrap();
        assert!(!text.contains('\n') && text.contains("m\\u{a}2026-01-01T00:00:00.000Z\\u{20}GET"), "{text}");
        let huge = RouteInfo { model: "é".repeat(10_000), ..info() };
        let text = line(&LogSettings::default(), &view(&huge, None), 0).unwrap();
        assert!(text.len() < 1000, "{}", text.len());
        let json = LogSettings { format: LogFormat::Json, ..LogSettings::default() };
        let text = line(&json, &view(&forged, None), 0).unwrap();
        assert!(!text.contains('\n'));
    }

    #[test]
    fn no_control_or_format_character_reaches_the_log_raw() {
        let sneaky =
            "a\u{9b}31m\u{85}b\u{2028}c\u{2029}d\u{202e}e\u{200b}f\u{2066}g\u{feff}h\u{e0041}i\u{ad}j";
        let info = RouteInfo { model: sneaky.into(), ..info() };
        let failed = Some((Side::Upstream, sneaky));
        for format in [LogFormat::Text, LogFormat::Json] {
            let settings = LogSettings { format, ..LogSettings::default() };
            let text = line(&settings, &view(&info, failed), 0).unwrap();
            let raw: Vec<char> = text.chars().filter(|&c| unsafe_in_log(c)).collect();
            assert!(raw.is_empty(), "{format:?}: {raw:?} in {text}");
            if format == LogFormat::Json {
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(value["model"], sneaky, "the JSON still reads back as sent");
            }
        }
        assert!(!unsafe_in_log('é') && !unsafe_in_log('中') && !unsafe_in_log(' '));
    }

    #[test]
    fn levels() {
        let info = info();
        let at = |level| line(&LogSettings { level, ..LogSettings::default() }, &view(&info, None), 0);
        assert!(at(LogLevel::Off).is_none() && at(LogLevel::Error).is_none() && at(LogLevel::Info).is_some());
        let upstream = view(&info, Some((Side::Upstream, "reset")));
        assert!(
            line(&LogSettings { level: LogLevel::Error, ..LogSettings::default() }, &upstream, 0).is_some()
        );
        let routine = View { routine: true, ..view(&info, None) };
        assert!(line(&LogSettings::default(), &routine, 0).is_none());
        assert!(
            line(&LogSettings { level: LogLevel::Debug, ..LogSettings::default() }, &routine, 0).is_some()
        );
    }
}
