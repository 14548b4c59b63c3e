//! The access log: one line per request on the host's log (stderr on the WASI
//! host, `console.log` on Workers), after the response ended. Never a secret,
//! a body or a query string: method, path, mode, provider, model, status,
//! times, sizes, the request id, and which side failed and why.

use serde_json::json;

use super::Side;
use crate::config::{LogFormat, LogLevel, LogSettings};
use crate::routing::RouteInfo;

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
                ("path", json!(view.path)),
                ("status", json!(view.status)),
                ("mode", json!(i.mode.as_str())),
                ("provider", json!(i.provider)),
                ("model", json!(i.model)),
                ("upstream_model", json!(i.upstream_model)),
                ("upstream_host", json!(i.upstream_host)),
                ("ttfb_ms", json!(super::point::round(view.ttfb_ms))),
                ("duration_ms", json!(super::point::round(view.duration_ms))),
                ("request_bytes", json!(view.request_bytes)),
                ("response_bytes", json!(view.response_bytes)),
                ("request_id", json!(view.request_id)),
                ("failed_side", json!(failure.map(|(side, _)| side))),
                ("failure", json!(failure.map(|(_, why)| why))),
            ];
            let body: Vec<String> =
                fields.iter().map(|(name, value)| format!("\"{name}\":{value}")).collect();
            format!("{{{}}}", body.join(","))
        }
        LogFormat::Text => {
            let or_dash = |s: &str| if s.is_empty() { "-".to_owned() } else { s.to_owned() };
            let model = match (i.model.is_empty(), i.upstream_model.is_empty() || i.upstream_model == i.model)
            {
                (true, _) => "-".to_owned(),
                (false, true) => i.model.clone(),
                (false, false) => format!("{}->{}", i.model, i.upstream_model),
            };
            let mut line = format!(
                "{time} {} {} {} {} {} {model} ttfb={:.1}ms total={:.1}ms in={}B out={}B id={}",
                view.method,
                view.path,
                view.status,
                i.mode.as_str(),
                or_dash(&i.provider),
                view.ttfb_ms,
                view.duration_ms,
                view.request_bytes,
                view.response_bytes,
                view.request_id,
            );
            if let Some((side, why)) = failure {
                line.push_str(&format!(" failed={side}: {why}"));
            }
            line
        }
    })
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
    use crate::routing::Mode;

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
