//! Proxy overhead on loopback, in one run: the same small non-streaming chat
//! request (a) straight to a fast fake upstream and (b) through the proxy
//! component on `wasmtime serve` (gateway mode, so routing, auth and the body
//! rewrite all run, and the access log goes to a file), (c) the same with
//! `LOG_LEVEL=off`, and (d) with aepipe reporting on (the fake upstream also
//! plays aepipe). Prints requests/s, p50/p99 latency, the overhead, the cost of
//! the access log and of reporting, and the component size; with `--node`/`--worker-build`/
//! `--miniflare`, (e) the Cloudflare Worker in workerd as well. Figures, not
//! pass/fail.
//!
//! `scripts/bench.sh` builds and runs it; options: `--concurrency N`
//! (default 8), `--seconds S` per target (default 5), `--wasmtime PATH`,
//! `--component PATH`. `BENCH_DEBUG=1` prints each failed request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

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

/// A keep-alive HTTP/1.1 server answering every request with `ANSWER`.
fn fake_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve_connection(stream));
        }
    });
    port
}

fn serve_connection(stream: TcpStream) {
    stream.set_nodelay(true).ok();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
        ANSWER.len()
    );
    while let Some(length) = read_head(&mut reader) {
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() || writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// How a message body is framed.
enum Framing {
    Length(usize),
    Chunked,
}

/// Reads a request or response head; returns how its body is framed.
fn read_framing(reader: &mut impl BufRead) -> Option<Framing> {
    let mut framing = Framing::Length(0);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            return Some(framing);
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("content-length") {
            framing = Framing::Length(value.trim().parse().ok()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.trim().eq_ignore_ascii_case("chunked")
        {
            framing = Framing::Chunked;
        }
    }
}

/// Reads a head and returns its content-length (the fake's own requests are never chunked).
fn read_head(reader: &mut impl BufRead) -> Option<usize> {
    match read_framing(reader)? {
        Framing::Length(n) => Some(n),
        Framing::Chunked => None,
    }
}

/// Reads a body framed as the head said.
fn read_body(reader: &mut impl BufRead, framing: Framing) -> Option<Vec<u8>> {
    match framing {
        Framing::Length(n) => {
            let mut body = vec![0; n];
            reader.read_exact(&mut body).ok()?;
            Some(body)
        }
        Framing::Chunked => {
            let mut body = Vec::new();
            let mut line = String::new();
            loop {
                line.clear();
                reader.read_line(&mut line).ok()?;
                let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
                let mut chunk = vec![0; size + 2]; // the chunk and its CRLF
                reader.read_exact(&mut chunk).ok()?;
                if size == 0 {
                    return Some(body);
                }
                body.extend_from_slice(&chunk[..size]);
            }
        }
    }
}

struct Target {
    label: &'static str,
    port: u16,
    path: String,
}

struct Result {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// `concurrency` keep-alive connections sending back to back for `seconds`.
fn load(target: &Target, concurrency: usize, seconds: u64) -> Result {
    let request = format!(
        "POST {} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        target.path,
        target.port,
        BODY.len()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, stop, port) = (request.clone(), stop.clone(), target.port);
            thread::spawn(move || worker(port, &request, &stop))
        })
        .collect();
    thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut result = Result { requests: 0, errors: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
    for w in workers {
        let (latencies, errors) = w.join().unwrap();
        result.requests += latencies.len();
        result.errors += errors;
        result.latencies.extend(latencies);
    }
    result.elapsed = started.elapsed();
    result.latencies.sort();
    result
}

fn worker(port: u16, request: &str, stop: &AtomicBool) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    'connect: while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
            errors += 1;
            continue;
        };
        stream.set_nodelay(true).ok();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let status = match writer.write_all(request.as_bytes()) {
                Ok(()) => read_response(&mut reader),
                Err(_) => None,
            };
            if status != Some(200) {
                if std::env::var_os("BENCH_DEBUG").is_some() {
                    eprintln!("error: status {status:?} after {:?}", t.elapsed());
                }
                errors += 1;
                continue 'connect;
            }
            latencies.push(t.elapsed());
        }
    }
    (latencies, errors)
}

fn read_response(reader: &mut impl BufRead) -> Option<u16> {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).ok()?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let framing = read_framing(reader)?;
    let body = read_body(reader, framing)?;
    if status != 200 && std::env::var_os("BENCH_DEBUG").is_some() {
        eprintln!("body: {}", String::from_utf8_lossy(&body));
    }
    Some(status)
}

/// `wasmtime serve` with the gateway pointed at the fake, plus `env`; stderr
/// (the access log) to `log`, as a file the operator keeps.
fn start_proxy(o: &Options, upstream: u16, env: &[String], log: &std::path::Path) -> (Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(&o.wasmtime);
    command
        .args(["serve", "-S", "cli", "--no-logging-prefix", "--addr", &format!("127.0.0.1:{port}")])
        .args(["--env", "ACCOUNT_ID=acc", "--env", "GATEWAY_ID=gw"])
        .args(["--env", &format!("GATEWAY_TOKEN={TOKEN}")])
        .args(["--env", &format!("GATEWAY_BASE_URL=http://127.0.0.1:{upstream}/v1")]);
    for pair in env {
        command.args(["--env", pair]);
    }
    let mut child = command
        .arg(&o.component)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("create the log file"))
        .spawn()
        .expect("start wasmtime serve (run scripts/setup.sh)");
    for _ in 0..300 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                return (child, port);
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("wasmtime serve did not start");
}

/// The Worker in workerd, configured like the proxy; ready once its secrets are seeded.
fn start_worker(o: &Options, upstream: u16) -> Option<(Child, u16)> {
    let (node, build, miniflare) = (o.node.as_ref()?, o.worker_build.as_ref()?, o.miniflare.as_ref()?);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!(
        r#"{{"ACCOUNT_ID":"acc","GATEWAY_ID":"gw","GATEWAY_TOKEN":"{TOKEN}","GATEWAY_BASE_URL":"http://127.0.0.1:{upstream}/v1"}}"#
    );
    let mut child = Command::new(node)
        .args(["tests/e2e/workerd_host.mjs", &port.to_string()])
        .env("APEX_WORKER_BUILD", build)
        .env("APEX_MINIFLARE", miniflare)
        .env("APEX_WORKER_CONFIG", config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start workerd (run scripts/setup.sh worker)");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 && !line.contains("workerd ready") {
        line.clear();
    }
    thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Some((child, port))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let o = options();
    let upstream = fake_upstream();
    let logs = std::env::temp_dir().join(format!("apex-bench-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let reporting_env =
        [format!("AEPIPE_BASE_URL=http://127.0.0.1:{upstream}"), "AEPIPE_TOKEN=bench".to_owned()];
    let (mut proxy, proxy_port) = start_proxy(&o, upstream, &[], &logs.join("proxy.log"));
    let (mut quiet, quiet_port) =
        start_proxy(&o, upstream, &["LOG_LEVEL=off".to_owned()], &logs.join("quiet.log"));
    let (mut reporting, reporting_port) = start_proxy(&o, upstream, &reporting_env, &logs.join("report.log"));
    let mut worker = start_worker(&o, upstream);
    let mut targets = vec![
        Target { label: "direct", port: upstream, path: "/v1/acc/gw/compat/chat/completions".into() },
        Target { label: "proxy (wasmtime serve)", port: proxy_port, path: "/v1/chat/completions".into() },
        Target { label: "proxy, LOG_LEVEL=off", port: quiet_port, path: "/v1/chat/completions".into() },
        Target { label: "proxy + aepipe reports", port: reporting_port, path: "/v1/chat/completions".into() },
    ];
    if let Some((_, port)) = &worker {
        targets.push(Target { label: "worker (workerd)", port: *port, path: "/v1/chat/completions".into() });
    }
    println!(
        "apex-ai-proxy overhead bench: {} connections, {} s per target, loopback",
        o.concurrency, o.seconds
    );
    println!("{:<24} {:>10} {:>9} {:>9} {:>8}", "target", "req/s", "p50 ms", "p99 ms", "errors");
    let mut rows = Vec::new();
    for target in &targets {
        load(target, o.concurrency, 1); // warm-up
        let r = load(target, o.concurrency, o.seconds);
        let rps = r.requests as f64 / r.elapsed.as_secs_f64();
        let (p50, p99) = (percentile(&r.latencies, 0.50), percentile(&r.latencies, 0.99));
        println!("{:<24} {:>10.0} {:>9.3} {:>9.3} {:>8}", target.label, rps, p50, p99, r.errors);
        rows.push((rps, p50, p99));
    }
    let (direct, proxied, quiet_row, reported) = (rows[0], rows[1], rows[2], rows[3]);
    println!(
        "overhead: p50 +{:.3} ms ({:.2}x), p99 +{:.3} ms ({:.2}x), throughput {:.2}x of direct",
        proxied.1 - direct.1,
        proxied.1 / direct.1,
        proxied.2 - direct.2,
        proxied.2 / direct.2,
        proxied.0 / direct.0
    );
    println!(
        "reporting on (2 aepipe calls after each response): p50 {:+.3} ms, p99 {:+.3} ms, throughput {:.2}x of proxy",
        reported.1 - proxied.1,
        reported.2 - proxied.2,
        reported.0 / proxied.0
    );
    let lines = std::fs::read_to_string(logs.join("proxy.log")).map(|t| t.lines().count()).unwrap_or(0);
    println!(
        "access log ({lines} lines written to a file): p50 {:+.3} ms, p99 {:+.3} ms, throughput {:.2}x of LOG_LEVEL=off",
        proxied.1 - quiet_row.1,
        proxied.2 - quiet_row.2,
        proxied.0 / quiet_row.0
    );
    let size = std::fs::metadata(&o.component).map(|m| m.len()).unwrap_or(0);
    println!("component: {} ({size} bytes)", o.component);
    let mut children = vec![&mut proxy, &mut quiet, &mut reporting];
    if let Some((child, _)) = &mut worker {
        children.push(child);
    }
    for child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&logs);
}
