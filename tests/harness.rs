//! Shared by the end-to-end tests: the moto server started by the test command, and
//! resource names that never collide between tests running in parallel.

use std::sync::atomic::{AtomicUsize, Ordering};

use devstack::stack::Clients;

/// The moto server's endpoint, from `MOTO_ENDPOINT` (set by `make test`, which starts moto
/// on a free loopback port and stops it at the end).
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "MOTO_ENDPOINT is not set: run the tests with `make test`, which starts moto server, \
             or `cargo run -p devstack --bin devstack -- with-moto -- cargo test ...`"
        )
    })
}

pub async fn clients() -> Clients {
    Clients::for_endpoint(&moto_endpoint()).await
}

/// `prefix-<pid>-<n>`: unique within this moto server's life.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
