//! apex-ai-proxy: an LLM request proxy with three behaviours (Cloudflare AI
//! Gateway routing, passthrough, model mapping), as a host-agnostic core.
//!
//! The core does no I/O: [`routing::plan`] turns a request head into a
//! [`routing::Step`]; the host reads bodies, talks to upstreams and pumps
//! response chunks through [`response::BodyFilter`]. Hosts: the WASI component
//! (`src/wasi_host`, compiled only for `target_os = "wasi"`) and the Cloudflare
//! Worker adapter crate.

pub mod buffered;
pub mod config;
pub mod errors;
pub mod failure;
pub mod filter;
pub mod gateway;
pub mod header_typos;
pub mod headers;
pub mod json_body;
pub mod mapping;
pub mod passthrough;
pub mod relay;
pub mod report;
pub mod response;
pub mod routing;
pub mod translate;

#[cfg(test)]
mod test_support;

#[cfg(target_os = "wasi")]
mod wasi_host;

pub use config::Config;
pub use errors::{Dialect, ProxyError};
pub use routing::{Forward, ForwardBody, NeedBody, Step, plan};

/// This crate's version, as `/healthz` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
