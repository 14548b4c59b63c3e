//! Ids the proxy makes up: request ids, and message or response ids when an
//! upstream sent none.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

/// Host entropy mixed into [`unique_id`].
static ID_SEED: AtomicU64 = AtomicU64::new(0);

/// A 32-hex-digit id, distinct per call within a process (std's randomly keyed
/// hasher; the core has no other source of randomness).
pub fn unique_id() -> String {
    let state = RandomState::new();
    let seed = ID_SEED.load(Ordering::Relaxed);
    format!("{:016x}{:016x}", state.hash_one((seed, 1u8)), state.hash_one((seed, 2u8)))
}

/// Gives [`unique_id`] entropy from the host. Needed where std has none of its
/// own (wasm32-unknown-unknown, the Worker: its ids would repeat from one
/// isolate to the next); harmless elsewhere.
pub fn seed(entropy: u64) {
    ID_SEED.store(entropy, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_differ() {
        let (a, b) = (super::unique_id(), super::unique_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }
}
