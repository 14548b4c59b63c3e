//! The hosts under test, started on free loopback ports: the component on
//! `wasmtime serve` (and on `spin up`), and the Worker in workerd through
//! Miniflare (`tests/e2e/workerd_host.mjs`), each with the gateway pointed at
//! the fake.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use crate::{Options, TOKEN};

/// A running host; stopped when dropped.
pub struct Host {
    child: Child,
    pub port: u16,
}

impl Host {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Host {
    /// SIGTERM first: the workerd harness then disposes of Miniflare, whose
    /// workerd would otherwise outlive it (orphans spinning on a closed
    /// control pipe skewed every later CPU figure); SIGKILL after 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The settings every host gets: gateway mode on the fake, passthrough to loopback allowed.
fn base_settings(upstream: u16) -> Vec<(String, String)> {
    [
        ("ACCOUNT_ID", "acc".to_owned()),
        ("GATEWAY_ID", "gw".to_owned()),
        ("GATEWAY_TOKEN", TOKEN.to_owned()),
        ("GATEWAY_BASE_URL", format!("http://127.0.0.1:{upstream}/v1")),
        ("PASSTHROUGH_ALLOW_PRIVATE", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The aepipe settings (the fake upstream plays aepipe).
pub fn reporting(upstream: u16) -> Vec<(String, String)> {
    vec![
        ("AEPIPE_BASE_URL".to_owned(), format!("http://127.0.0.1:{upstream}")),
        ("AEPIPE_TOKEN".to_owned(), "bench".to_owned()),
    ]
}

/// `wasmtime serve` with `extra` settings and `flags`; stderr (the access
/// log) to `log`, as a file the operator keeps.
pub fn wasmtime(
    o: &Options,
    component: &str,
    flags: &[String],
    upstream: u16,
    extra: &[(String, String)],
    log: &Path,
) -> Host {
    let port = free_port();
    let mut command = Command::new(&o.wasmtime);
    command.args(["serve", "-S", "cli", "--no-logging-prefix", "--addr", &format!("127.0.0.1:{port}")]);
    command.args(flags);
    for (k, v) in base_settings(upstream).iter().chain(extra).chain(&o.settings) {
        command.args(["--env", &format!("{k}={v}")]);
    }
    let child = command
        .arg(component)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("create the log file"))
        .spawn()
        .expect("start wasmtime serve (run scripts/setup.sh)");
    let host = Host { child, port };
    wait_healthy(port);
    host
}

/// How `spin up` gets the settings.
#[derive(Clone, Copy, PartialEq)]
pub enum SpinSettings {
    /// `--env`, as on every host.
    Env,
    /// Spin variables (`SPIN_VARIABLE_<NAME>` in spin's environment), as SpinKube sets them.
    Variables,
}

/// `spin up` with the project's spin.toml (its source `component`, loopback
/// allowed for the fake) in `dir`; its log files and echo stay in `dir`.
pub fn spin(o: &Options, component: &str, upstream: u16, how: SpinSettings, dir: &Path) -> Option<Host> {
    let spin = o.spin.as_ref()?;
    std::fs::create_dir_all(dir).unwrap();
    let manifest = std::fs::read_to_string("spin.toml").expect("spin.toml");
    let manifest: String = manifest
        .lines()
        .map(|line| match line {
            l if l.starts_with("source = ") => format!("source = \"{component}\""),
            l if l.starts_with("allowed_outbound_hosts = [") => {
                l.replacen('[', "[\"http://127.0.0.1:*\", ", 1)
            }
            l => l.to_owned(),
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(dir.join("spin.toml"), manifest).unwrap();
    let port = free_port();
    let mut command = Command::new(spin);
    command.args(["up", "--from", &dir.join("spin.toml").display().to_string()]);
    command.args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--state-dir",
        &dir.join(".spin").display().to_string(),
    ]);
    for (k, v) in base_settings(upstream).iter().chain(&o.settings) {
        match how {
            SpinSettings::Env => command.args(["--env", &format!("{k}={v}")]),
            SpinSettings::Variables => command.env(format!("SPIN_VARIABLE_{k}"), v),
        };
    }
    let child = command
        .stdout(std::fs::File::create(dir.join("out.log")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start spin up (run scripts/setup.sh test)");
    let host = Host { child, port };
    wait_healthy(port);
    Some(host)
}

fn wait_healthy(port: u16) {
    for _ in 0..300 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("the host on port {port} did not start");
}

/// The Worker `build` in workerd with `extra` settings; `None` without a build.
pub fn worker(
    o: &Options,
    build: Option<&String>,
    upstream: u16,
    extra: &[(String, String)],
) -> Option<Host> {
    workerd(o, build?, upstream, extra)
}

/// The floor: a JS forwarder in the same workerd harness (`floor_worker/`).
pub fn floor_worker(o: &Options, upstream: u16) -> Option<Host> {
    workerd(o, "benches/overhead/floor_worker", upstream, &[])
}

/// A reference: the gateway path as a plain JavaScript Worker (`js_gateway/`).
pub fn js_gateway_worker(o: &Options, upstream: u16) -> Option<Host> {
    workerd(o, "benches/overhead/js_gateway", upstream, &[])
}

/// The Worker built in `build` (worker.js and its wasm) in workerd.
fn workerd(o: &Options, build: &str, upstream: u16, extra: &[(String, String)]) -> Option<Host> {
    let (node, miniflare) = (o.node.as_ref()?, o.miniflare.as_ref()?);
    let port = free_port();
    let settings: serde_json::Map<String, serde_json::Value> = base_settings(upstream)
        .into_iter()
        .chain(extra.iter().cloned())
        .chain(o.settings.iter().cloned())
        .map(|(k, v)| (k, v.into()))
        .collect();
    let mut child = Command::new(node)
        .args(["tests/e2e/workerd_host.mjs", &port.to_string()])
        .env("APEX_WORKER_BUILD", build)
        .env("APEX_MINIFLARE", miniflare)
        .env("APEX_WORKER_CONFIG", serde_json::Value::Object(settings).to_string())
        // The Worker's log lines are dropped in the host, not re-printed by
        // Node (harness CPU that Cloudflare does not have); BENCH_DEBUG keeps them.
        .env("APEX_WORKER_STDIO", if std::env::var_os("BENCH_DEBUG").is_some() { "print" } else { "drain" })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start workerd (run scripts/setup.sh worker)");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 && !line.contains("workerd ready") {
        line.clear();
    }
    // The Worker's console.log (the access log) keeps flowing: drain it.
    thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Some(Host { child, port })
}
