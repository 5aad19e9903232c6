//! Running a connector against a mock server and looking at what it emitted.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::path::Path;

pub use tally_http::testing::{fast, run, Run};

pub const SECRET: &str = "ado-test-pat-3b9d7f21c4e8";

/// The response body of a Microsoft example (`responses.200.body`).
pub fn example(name: &str) -> serde_json::Value {
    fixture(name)["responses"]["200"]["body"].clone()
}

pub fn fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Sets the test secret in `var` (every test uses the same value, so parallel tests agree).
pub fn set_secret(var: &str) {
    std::env::set_var(var, SECRET);
}
