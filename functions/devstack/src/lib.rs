//! The local stack behind `make dev`, and the harness for tests against moto server:
//! moto on a free loopback port, the bucket and tables, the demo model and wines.

pub mod demo_data;
pub mod http;
pub mod moto;
pub mod resources;
pub mod runtime_api;
pub mod stack;
