//! The polling helpers of the integration tests (included by `support`, `dns_common` and
//! `init_util`).

use std::time::{Duration, Instant};

/// Call `f` every `every` until it gives a value; panic naming `what` after `limit_s` seconds.
pub fn until_some<T>(
    limit_s: f64,
    every: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let until = Instant::now() + Duration::from_secs_f64(limit_s);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "{what}: not within {limit_s} s");
        std::thread::sleep(every);
    }
}

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
