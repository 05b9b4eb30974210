//! Shared by the end-to-end tests: the moto server started by the test command, and
//! resource names that never collide between tests running in parallel.

use testkit::stack::Clients;

pub use testkit::moto::{test_endpoint as moto_endpoint, unique_name as unique};

pub async fn clients() -> Clients {
    Clients::for_endpoint(&moto_endpoint()).await
}
