//! The one polling helper of the integration tests (included by `support`, `dns_common` and
//! `init_util`).

use std::time::{Duration, Instant};

/// Check `f` every 10 ms until it holds or `limit` has passed (then once more). Some(how long it
/// took) when it held; every loop is bounded by `limit`.
pub fn within(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f().then(|| start.elapsed())
}

/// True when `f` holds within `limit` (see [`within`]).
pub fn eventually(limit: Duration, f: impl FnMut() -> bool) -> bool {
    within(limit, f).is_some()
}
