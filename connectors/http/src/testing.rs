//! Running a connector in a test and looking at what it emitted: for connector tests and
//! plugin authors. Compiled only with the `testing` feature (connectors enable it in their
//! dev-dependencies).

use std::time::Duration;

pub use tally_model::testing::{run, Run};

use crate::HttpOptions;

/// Short timeouts and backoffs, so failure tests end quickly.
pub fn fast() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        secondary_limit_wait: Duration::from_millis(200),
        max_concurrency: 4,
    }
}
