//! The bench's HTTP: a fast fake upstream (which also plays aepipe), and the
//! load generator (keep-alive connections sending back to back).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::{ANSWER, BODY, TOKEN};

/// A keep-alive HTTP/1.1 server answering every request with `ANSWER`, but
/// a request for the model `refused` with a 429 (a fallback's first attempt).
pub fn fake_upstream() -> u16 {
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
    let refused =
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
    while let Some(length) = read_head(&mut reader) {
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer = if body.windows(9).any(|w| w == b"/refused\"") { refused } else { response.as_str() };
        if writer.write_all(answer.as_bytes()).is_err() {
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

/// Where and what the load generator sends.
pub struct Target {
    pub label: &'static str,
    pub port: u16,
    pub path: String,
    /// Extra request header lines, each ending in `\r\n`.
    pub headers: String,
}

pub struct Outcome {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

/// `concurrency` keep-alive connections sending back to back for `seconds`.
pub fn load(target: &Target, concurrency: usize, seconds: u64) -> Outcome {
    let request = format!(
        "POST {} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nauthorization: Bearer {TOKEN}\r\n{}content-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        target.path,
        target.port,
        target.headers,
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
    let mut result = Outcome { requests: 0, errors: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
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
