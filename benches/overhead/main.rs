//! Proxy cost on loopback, in one run: the same small non-streaming chat
//! request straight to a fast fake upstream, and through each host under test:
//! the component on `wasmtime serve` in gateway mode (routing, auth and the
//! body rewrite all run; the access log goes to a file), the same with
//! `LOG_LEVEL=off`, with aepipe reporting on (the fake also plays aepipe), and
//! in passthrough mode; with `--node`/`--worker-build`/`--miniflare`, the
//! Cloudflare Worker in workerd in gateway mode (log on and off), passthrough mode and with
//! reporting on. Prints requests/s, p50/p99 latency, CPU per request (user +
//! system time of the host's process tree, from `/proc`; for workerd, the
//! workerd process, with Miniflare's Node harness printed apart), the overhead
//! and the costs of the access log and of reporting. Figures, not pass/fail.
//!
//! `scripts/bench.sh` builds and runs it; options: `--concurrency N`
//! (default 8), `--seconds S` per target (default 5), `--serve-flags "…"`
//! (extra `wasmtime serve` flags), `--settings "K=V …"` (extra settings for
//! every host), `--only PREFIX,…` (only the targets whose label starts so),
//! `--wasmtime PATH`, `--component PATH`.
//! `--spin PATH` and `--spin-component PATH`: Spin under the same load, the
//! plain component and the Spin flavour with `--env`, and the Spin flavour
//! with its settings as Spin variables (what they cost on Spin).
//! `--rounds N` (default 3): every chosen target is measured N times, in
//! turn (round 1 of each target, then round 2, …), so a drift of the machine's
//! load spreads over all rows; the table gives each row's median round and
//! the spread of its CPU figure. On a shared machine the Worker rows move by
//! ±15% from run to run: their ratio to the JS floor, measured in the same
//! rounds, is the steady figure.
//! `--before-component PATH` / `--before-worker-build PATH`: another build
//! (the code before a change) measured in the same rounds, as "(before)"
//! twins of the gateway, passthrough and reporting rows, with the change in
//! CPU per request printed at the end: one paired run, so the machine's drift
//! falls on both.
//! `BENCH_DEBUG=1` prints each failed request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cpu;
mod hosts;
mod http;

use std::time::Duration;

use http::Target;

const TOKEN: &str = "bench-token";
const BODY: &str = r#"{"model":"gpt-5.5#openai","messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":32}"#;
const ANSWER: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"openai/gpt-5.5","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how are you?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}"#;

struct Options {
    concurrency: usize,
    seconds: u64,
    wasmtime: String,
    component: String,
    /// `node` and the Worker build: when both are given, the Worker in workerd
    /// (through tests/e2e/workerd_host.mjs and Miniflare) is measured too.
    node: Option<String>,
    worker_build: Option<String>,
    miniflare: Option<String>,
    /// Extra `wasmtime serve` flags (e.g. `-O pooling-allocator`).
    serve_flags: Vec<String>,
    /// Extra settings for every host under test (`K=V`).
    settings: Vec<(String, String)>,
    /// Only the targets whose label starts with one of these.
    only: Vec<String>,
    /// How many times each target is measured (in turn); rows give the median.
    rounds: usize,
    /// Another build to measure in the same rounds (before a change).
    before_component: Option<String>,
    before_worker_build: Option<String>,
    /// `spin` and the Spin flavour: when both are given, the Spin rows.
    spin: Option<String>,
    spin_component: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        concurrency: 8,
        seconds: 5,
        wasmtime: ".tools/wasmtime".into(),
        component: "target/wasm32-wasip2/release/apex_ai_proxy.wasm".into(),
        node: None,
        worker_build: None,
        miniflare: None,
        serve_flags: Vec::new(),
        settings: Vec::new(),
        only: Vec::new(),
        rounds: 3,
        before_component: None,
        before_worker_build: None,
        spin: None,
        spin_component: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--concurrency" => o.concurrency = value.parse().expect("--concurrency N"),
            "--seconds" => o.seconds = value.parse().expect("--seconds S"),
            "--wasmtime" => o.wasmtime = value,
            "--component" => o.component = value,
            "--node" => o.node = Some(value),
            "--worker-build" => o.worker_build = Some(value),
            "--miniflare" => o.miniflare = Some(value),
            "--serve-flags" => o.serve_flags = value.split_whitespace().map(str::to_owned).collect(),
            "--settings" => {
                o.settings = value
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            }
            "--only" => o.only = value.split(',').map(str::to_owned).collect(),
            "--rounds" => o.rounds = value.parse::<usize>().expect("--rounds N").max(1),
            "--before-component" => o.before_component = Some(value),
            "--before-worker-build" => o.before_worker_build = Some(value),
            "--spin" => o.spin = Some(value),
            "--spin-component" => o.spin_component = Some(value),
            // cargo bench passes --bench to every bench binary.
            "--bench" => {
                i += 1;
                continue;
            }
            other => {
                eprintln!("overhead: unknown argument {other}; see scripts/bench.sh --help");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    o
}

/// One measured row.
struct Row {
    label: &'static str,
    rps: f64,
    p50: f64,
    p99: f64,
    /// Host CPU per request, in ms (`None` for the direct row).
    cpu: Option<f64>,
    /// The harness's CPU per request (Miniflare's Node process), in ms.
    harness: Option<f64>,
    /// The lowest and highest CPU figure over the rounds.
    cpu_range: Option<(f64, f64)>,
    errors: usize,
}

impl Row {
    fn print(&self) {
        let cpu = self.cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.3}"));
        let spread = self.cpu_range.map_or_else(String::new, |(lo, hi)| format!("  {lo:.3}-{hi:.3}"));
        println!(
            "{:<32} {:>9.0} {:>9.3} {:>9.3} {:>10} {:>7}{spread}",
            self.label, self.rps, self.p50, self.p99, cpu, self.errors
        );
    }
}

/// One row from `rounds` measurements of a target: the round of median CPU
/// (of median throughput for a row without CPU), with the CPU range and all
/// the errors.
fn median(mut rounds: Vec<Row>) -> Row {
    let key = |r: &Row| r.cpu.unwrap_or(r.rps);
    rounds.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let cpus: Vec<f64> = rounds.iter().filter_map(|r| r.cpu).collect();
    let range = cpus.first().zip(cpus.last()).map(|(lo, hi)| (*lo, *hi));
    let errors = rounds.iter().map(|r| r.errors).sum();
    let mid = rounds.len() / 2;
    let mut row = rounds.swap_remove(mid);
    row.cpu_range = range.filter(|_| cpus.len() > 1);
    row.errors = errors;
    row
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// Warms `target` up for a second, then loads it and reads its host's CPU.
fn measure(target: &Target, pid: Option<u32>, o: &Options) -> Row {
    http::load(target, o.concurrency, 1);
    let before = pid.map(cpu::by_process);
    let r = http::load(target, o.concurrency, o.seconds);
    let after = pid.map(cpu::by_process);
    if std::env::var_os("BENCH_DEBUG").is_some()
        && let (Some(before), Some(after)) = (&before, &after)
    {
        for (i, (name, spent)) in after.iter().enumerate() {
            let was = before.get(i).map_or(Duration::ZERO, |(_, d)| *d);
            eprintln!(
                "  {name}: {:.3} ms/req",
                spent.saturating_sub(was).as_secs_f64() * 1000.0 / r.requests.max(1) as f64
            );
        }
    }
    // Miniflare's Node process only starts workerd and relays its output: it
    // is the harness, like the load generator, and is counted apart.
    let total = |list: &Vec<(String, Duration)>, harness: bool| {
        list.iter().filter(|(name, _)| (name == "node") == harness).map(|(_, d)| *d).sum::<Duration>()
    };
    let per_request = |harness: bool| {
        let used = after
            .as_ref()
            .zip(before.as_ref())
            .map(|(a, b)| total(a, harness).saturating_sub(total(b, harness)));
        used.map(|d| d.as_secs_f64() * 1000.0 / r.requests.max(1) as f64)
    };
    let rps = r.requests as f64 / r.elapsed.as_secs_f64();
    let (p50, p99) = (percentile(&r.latencies, 0.50), percentile(&r.latencies, 0.99));
    let (cpu, harness) = (per_request(false), per_request(true));
    let row = Row { label: target.label, rps, p50, p99, cpu, harness, cpu_range: None, errors: r.errors };
    if o.rounds > 1 {
        print!("  round: ");
    }
    row.print();
    row
}

fn main() {
    let o = options();
    let upstream = http::fake_upstream();
    let logs = std::env::temp_dir().join(format!("apex-bench-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let quiet = [("LOG_LEVEL".to_owned(), "off".to_owned())];
    let flags = &o.serve_flags;
    let c = o.component.as_str();
    let proxy = hosts::wasmtime(&o, c, flags, upstream, &[], &logs.join("proxy.log"));
    let proxy_quiet = hosts::wasmtime(&o, c, flags, upstream, &quiet, &logs.join("quiet.log"));
    let reporting = hosts::reporting(upstream);
    let proxy_report = hosts::wasmtime(&o, c, flags, upstream, &reporting, &logs.join("report.log"));
    // wasmtime's own defaults: a new instance per request.
    let proxy_plain = hosts::wasmtime(&o, c, &[], upstream, &[], &logs.join("plain.log"));
    let plain_report = hosts::wasmtime(&o, c, &[], upstream, &reporting, &logs.join("plain-report.log"));
    let build = o.worker_build.as_ref();
    let worker = hosts::worker(&o, build, upstream, &[]);
    let worker_report = hosts::worker(&o, build, upstream, &reporting);
    let worker_quiet = hosts::worker(&o, build, upstream, &quiet);
    // The build before a change, when given: its wasmtime and Worker hosts.
    let before = o.before_component.as_ref().map(|c| {
        let proxy = hosts::wasmtime(&o, c, flags, upstream, &[], &logs.join("before.log"));
        let report = hosts::wasmtime(&o, c, flags, upstream, &reporting, &logs.join("before-report.log"));
        (proxy, report)
    });
    let before_build = o.before_worker_build.as_ref();
    let before_worker = hosts::worker(&o, before_build, upstream, &[]);
    let before_worker_report = hosts::worker(&o, before_build, upstream, &reporting);
    // Spin: the plain component and the Spin flavour, settings as --env or as variables.
    let spin_flavour = o.spin_component.clone().unwrap_or_default();
    let (env, variables) = (hosts::SpinSettings::Env, hosts::SpinSettings::Variables);
    let spin_hosts = o.spin_component.as_ref().and_then(|_| {
        Some((
            hosts::spin(&o, c, upstream, env, &logs.join("spin-plain"))?,
            hosts::spin(&o, &spin_flavour, upstream, env, &logs.join("spin-flavour"))?,
            hosts::spin(&o, &spin_flavour, upstream, variables, &logs.join("spin-variables"))?,
        ))
    });
    let floor = hosts::floor_worker(&o, upstream);
    let js_gateway = hosts::js_gateway_worker(&o, upstream);
    let gateway =
        |label, port| Target { label, port, path: "/v1/chat/completions".into(), headers: String::new() };
    let passthrough = |label, port| Target {
        label,
        port,
        path: "/v1/acc/gw/compat/chat/completions".into(),
        headers: format!("x-apex-ai-proxy-provider: http://127.0.0.1:{upstream}\r\n"),
    };
    // A chain whose first model answers, and one whose first (mapped to
    // `refused#openai`, which the fake upstream answers 429) is refused.
    let fallback = |label, port, refused: bool| Target {
        label,
        port,
        path: "/v1/chat/completions".into(),
        headers: format!(
            "{}x-apex-ai-proxy-fallback: gpt-5.5#deepseek\r\n",
            if refused { "x-apex-ai-proxy-mapping: gpt-5.5#refused\r\n" } else { "" }
        ),
    };
    let mut targets = vec![
        (
            Target {
                label: "direct",
                port: upstream,
                path: "/v1/acc/gw/compat/chat/completions".into(),
                headers: String::new(),
            },
            None,
        ),
        (gateway("wasmtime gateway (log on)", proxy.port), Some(proxy.pid())),
        (gateway("wasmtime gateway, LOG_LEVEL=off", proxy_quiet.port), Some(proxy_quiet.pid())),
        (fallback("wasmtime fallback, first answers", proxy.port, false), Some(proxy.pid())),
        (fallback("wasmtime fallback, one refused", proxy.port, true), Some(proxy.pid())),
        (gateway("wasmtime gateway + aepipe", proxy_report.port), Some(proxy_report.pid())),
        (passthrough("wasmtime passthrough", proxy.port), Some(proxy.pid())),
        (gateway("wasmtime gateway, no serve flags", proxy_plain.port), Some(proxy_plain.pid())),
        (gateway("wasmtime +aepipe, no serve flags", plain_report.port), Some(plain_report.pid())),
    ];
    if let (Some(w), Some(wr), Some(wq)) = (&worker, &worker_report, &worker_quiet) {
        targets.push((gateway("worker gateway", w.port), Some(w.pid())));
        targets.push((gateway("worker gateway, LOG_LEVEL=off", wq.port), Some(wq.pid())));
        targets.push((passthrough("worker passthrough", w.port), Some(w.pid())));
        targets.push((gateway("worker gateway + aepipe", wr.port), Some(wr.pid())));
    }
    if let Some((p, r)) = &before {
        targets.push((gateway("wasmtime gateway (before)", p.port), Some(p.pid())));
        targets.push((passthrough("wasmtime passthrough (before)", p.port), Some(p.pid())));
        targets.push((gateway("wasmtime gateway + aepipe (before)", r.port), Some(r.pid())));
    }
    if let (Some(w), Some(wr)) = (&before_worker, &before_worker_report) {
        targets.push((gateway("worker gateway (before)", w.port), Some(w.pid())));
        targets.push((passthrough("worker passthrough (before)", w.port), Some(w.pid())));
        targets.push((gateway("worker gateway + aepipe (before)", wr.port), Some(wr.pid())));
    }
    if let Some((plain, flavour, variables)) = &spin_hosts {
        targets.push((gateway("spin gateway, plain component", plain.port), Some(plain.pid())));
        targets.push((gateway("spin gateway, Spin flavour", flavour.port), Some(flavour.pid())));
        targets.push((gateway("spin gateway, Spin variables", variables.port), Some(variables.pid())));
    }
    if let Some(j) = &js_gateway {
        targets.push((gateway("workerd reference: JS gateway", j.port), Some(j.pid())));
    }
    if let Some(f) = &floor {
        targets.push((gateway("workerd floor: JS forwarder", f.port), Some(f.pid())));
    }
    let flags = if o.serve_flags.is_empty() {
        String::new()
    } else {
        format!(", serve flags: {}", o.serve_flags.join(" "))
    };
    println!(
        "apex-ai-proxy cost bench: {} connections, {} s per target, {} rounds, loopback{flags}",
        o.concurrency, o.seconds, o.rounds
    );
    let header = || {
        println!(
            "{:<32} {:>9} {:>9} {:>9} {:>10} {:>7}",
            "target", "req/s", "p50 ms", "p99 ms", "cpu ms/req", "errors"
        )
    };
    header();
    let chosen = |t: &Target| o.only.is_empty() || o.only.iter().any(|p| t.label.starts_with(p.as_str()));
    let chosen: Vec<_> = targets.iter().filter(|(t, _)| chosen(t)).collect();
    let mut measured: Vec<Vec<Row>> = chosen.iter().map(|_| Vec::new()).collect();
    for _ in 0..o.rounds {
        for ((target, pid), rounds) in chosen.iter().zip(&mut measured) {
            rounds.push(measure(target, *pid, &o));
        }
    }
    let rows: Vec<Row> = measured.into_iter().map(median).collect();
    if o.rounds > 1 {
        println!("medians of {} rounds (cpu range over the rounds at the right):", o.rounds);
        header();
        rows.iter().for_each(Row::print);
    }
    let row = |label: &str| rows.iter().find(|r| r.label == label);
    let cpu = |r: &Row| r.cpu.unwrap_or(f64::NAN);
    if let (Some(direct), Some(proxied), Some(quiet), Some(reported)) = (
        row("direct"),
        row("wasmtime gateway (log on)"),
        row("wasmtime gateway, LOG_LEVEL=off"),
        row("wasmtime gateway + aepipe"),
    ) {
        println!(
            "overhead on wasmtime: p50 +{:.3} ms, p99 +{:.3} ms, throughput {:.3}x of direct",
            proxied.p50 - direct.p50,
            proxied.p99 - direct.p99,
            proxied.rps / direct.rps
        );
        let lines = std::fs::read_to_string(logs.join("proxy.log")).map(|t| t.lines().count()).unwrap_or(0);
        println!(
            "access log ({lines} lines to a file): p50 {:+.3} ms, cpu {:+.3} ms/req, throughput {:.2}x of LOG_LEVEL=off",
            proxied.p50 - quiet.p50,
            cpu(proxied) - cpu(quiet),
            proxied.rps / quiet.rps
        );
        println!(
            "aepipe reporting on wasmtime: p50 {:+.3} ms, cpu {:+.3} ms/req ({:.2}x), throughput {:.2}x",
            reported.p50 - proxied.p50,
            cpu(reported) - cpu(proxied),
            cpu(reported) / cpu(proxied),
            reported.rps / proxied.rps
        );
    }
    if let (Some(shipped), Some(plain), Some(plain_report)) = (
        row("wasmtime gateway (log on)"),
        row("wasmtime gateway, no serve flags"),
        row("wasmtime +aepipe, no serve flags"),
    ) {
        println!(
            "serve flags (instance reuse, pool): cpu {:.3} vs {:.3} ms/req without them, throughput {:.2}x",
            cpu(shipped),
            cpu(plain),
            shipped.rps / plain.rps
        );
        println!(
            "aepipe reporting without the serve flags: cpu {:+.3} ms/req ({:.2}x)",
            cpu(plain_report) - cpu(plain),
            cpu(plain_report) / cpu(plain)
        );
    }
    if let (Some(w), Some(wq)) = (row("worker gateway"), row("worker gateway, LOG_LEVEL=off")) {
        println!(
            "access log on the Worker: cpu {:+.3} ms/req, throughput {:.2}x",
            cpu(w) - cpu(wq),
            w.rps / wq.rps
        );
    }
    if let (Some(w), Some(wr)) = (row("worker gateway"), row("worker gateway + aepipe")) {
        println!(
            "aepipe reporting on the Worker: cpu {:+.3} ms/req ({:.2}x), throughput {:.2}x",
            cpu(wr) - cpu(w),
            cpu(wr) / cpu(w),
            wr.rps / w.rps
        );
    }
    if let Some(floor) = row("workerd floor: JS forwarder") {
        let ratios: Vec<String> = rows
            .iter()
            .filter(|r| r.label.starts_with("worker") && r.label != floor.label)
            .map(|r| format!("{} {:.2}x", r.label, cpu(r) / cpu(floor)))
            .collect();
        if !ratios.is_empty() {
            println!("Worker rows against the JS floor (cpu, medians): {}", ratios.join(", "));
        }
    }
    if let (Some(plain), Some(first), Some(refused)) = (
        row("wasmtime gateway (log on)"),
        row("wasmtime fallback, first answers"),
        row("wasmtime fallback, one refused"),
    ) {
        println!(
            "fallbacks on wasmtime: a named chain whose first model answers {:+.3} ms cpu/req; one refused attempt \
             {:+.3} ms cpu/req, {:+.3} ms p50",
            cpu(first) - cpu(plain),
            cpu(refused) - cpu(first),
            refused.p50 - first.p50
        );
    }
    for (after, before) in [
        ("wasmtime gateway (log on)", "wasmtime gateway (before)"),
        ("wasmtime passthrough", "wasmtime passthrough (before)"),
        ("wasmtime gateway + aepipe", "wasmtime gateway + aepipe (before)"),
        ("worker gateway", "worker gateway (before)"),
        ("worker passthrough", "worker passthrough (before)"),
        ("worker gateway + aepipe", "worker gateway + aepipe (before)"),
    ] {
        if let (Some(a), Some(b)) = (row(after), row(before)) {
            let change = (cpu(a) / cpu(b) - 1.0) * 100.0;
            println!("before -> after, {after}: cpu {:.3} -> {:.3} ms/req ({change:+.1}%)", cpu(b), cpu(a));
        }
    }
    let harness: Vec<String> = rows
        .iter()
        .filter_map(|r| r.harness.filter(|h| *h > 0.0).map(|h| format!("{} {h:.3}", r.label)))
        .collect();
    if !harness.is_empty() {
        println!("Miniflare's Node process (harness, not in the cpu column), ms/req: {}", harness.join(", "));
    }
    let size = std::fs::metadata(&o.component).map(|m| m.len()).unwrap_or(0);
    println!("component: {} ({size} bytes)", o.component);
    drop((
        proxy,
        proxy_quiet,
        proxy_report,
        proxy_plain,
        plain_report,
        worker,
        worker_report,
        worker_quiet,
        js_gateway,
        floor,
        before,
        before_worker,
        before_worker_report,
    ));
    match std::env::var_os("BENCH_DEBUG") {
        Some(_) => println!("hosts' logs kept in {}", logs.display()),
        None => {
            let _ = std::fs::remove_dir_all(&logs);
        }
    }
}
