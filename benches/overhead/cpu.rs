//! CPU time of a host: user + system time of a process and every descendant,
//! read from `/proc` (Linux), so a host's helper processes (workerd under
//! Miniflare's node) count too.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

/// The CPU time `root` and each descendant have used so far, by command name.
pub fn by_process(root: u32) -> Vec<(String, Duration)> {
    let mut stats = HashMap::new(); // pid -> (name, ppid, ticks)
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let Some(stat) = stat(pid) {
            stats.insert(pid, stat);
        }
    }
    let per_second = ticks_per_second() as f64;
    let mut found = Vec::new();
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        if let Some((name, _, ticks)) = stats.get(&pid) {
            found.push((name.clone(), Duration::from_secs_f64(*ticks as f64 / per_second)));
        }
        pending.extend(stats.iter().filter(|(_, (_, ppid, _))| *ppid == pid).map(|(child, _)| *child));
    }
    found
}

/// `(command name, ppid, utime + stime)` from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(String, u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let name = text.get(text.find('(')? + 1..text.rfind(')')?)?.to_owned();
    let fields: Vec<&str> = text.get(text.rfind(')')? + 2..)?.split(' ').collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, ppid, utime + stime))
}

fn ticks_per_second() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok();
    out.and_then(|o| String::from_utf8(o.stdout).ok()).and_then(|s| s.trim().parse().ok()).unwrap_or(100)
}
