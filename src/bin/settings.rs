//! `apex-ai-proxy-settings`: what the proxy would make of this shell's
//! settings, from the same core the component runs. `serve.sh` prints its
//! summary as the startup banner and passes exactly the names it lists.
//!
//! Usage: `apex-ai-proxy-settings summary [ADDR]` | `apex-ai-proxy-settings names`

use std::process::ExitCode;

use apex_ai_proxy::config::{Config, SETTING_NAMES};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["names"] => println!("{}", SETTING_NAMES.join(" ")),
        ["summary", rest @ ..] if rest.len() <= 1 => {
            let cfg = Config::from_lookup(|name| std::env::var(name).ok());
            let place = rest.first().map(|addr| format!(" on http://{addr}")).unwrap_or_default();
            println!("apex-ai-proxy {}{place}", apex_ai_proxy::VERSION);
            for line in cfg.summary() {
                println!("  {line}");
            }
        }
        _ => {
            eprintln!("usage: apex-ai-proxy-settings summary [ADDR] | apex-ai-proxy-settings names");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
