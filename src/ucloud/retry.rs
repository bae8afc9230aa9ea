//! When to try a failed request again: which failures are transient, which mean "slow down",
//! and how long to wait. The README's "Rate limits and outages" section is the user's view.
//!
//! `DescribeImage` is a read, so repeating it is always safe; the limits are there so a broken
//! endpoint fails the run in bounded time instead of hanging a deploy pipeline.

use std::time::Duration;

use super::error::ApiError;

/// The first delay before a retry; it doubles each time up to [`MAX_DELAY`].
pub const BASE_DELAY: Duration = Duration::from_millis(200);
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// How one attempt went wrong.
#[derive(Debug)]
pub enum Failure {
    /// Worth another try: the network, an overloaded server, a garbled body. The text says what
    /// happened, for the final error if every attempt fails.
    Transient(Detail),
    /// "Slow down" (RetCode 153, HTTP 429): wait, lower the requests in flight, and send again;
    /// not counted as a failed attempt.
    SlowDown {
        detail: Detail,
        /// The `Retry-After` the server asked for, if any.
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (refused credentials, bad parameters); fail now.
    Fatal(Box<ApiError>),
}

/// What a failed attempt said, for the final error.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    pub message: String,
    pub ret_code: Option<i64>,
    pub request_uuid: Option<String>,
}

impl Detail {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }
}

/// HTTP statuses that mean "try again later".
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// HTTP statuses that mean "slow down".
pub fn is_slow_down_status(status: u16) -> bool {
    status == 429
}

/// UCloud's rate-limit answer ("API 请求被限流").
pub const RATE_LIMITED: i64 = 153;

/// RetCodes worth another try: 110 (API response timeout), 130 (gateway or auth service error),
/// 150 (service unavailable), 153 (rate-limited) from UCloud's common error codes, and 2000 up,
/// the services' own internal errors. Everything else is about the request and will not change.
pub fn is_transient_ret_code(ret_code: i64) -> bool {
    matches!(ret_code, 110 | 130 | 150 | RATE_LIMITED) || ret_code >= 2000
}

/// `Retry-After` in seconds (the form rate limiters send). The HTTP-date form is rare for 429s
/// and is ignored: the usual backoff applies instead (our choice).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|seconds| Duration::from_secs(seconds.min(24 * 3600)))
}

/// The delay before retry number `retry` (1 for the first retry): exponential backoff with full
/// jitter, so many clients failing at once do not come back in lockstep.
pub fn backoff(retry: u32) -> Duration {
    backoff_with(retry, fastrand::f64())
}

/// [`backoff`] with the random fraction in `[0, 1)` given, for tests.
pub fn backoff_with(retry: u32, fraction: f64) -> Duration {
    let exponent = retry.saturating_sub(1).min(16);
    let ceiling = BASE_DELAY.saturating_mul(1 << exponent).min(MAX_DELAY);
    ceiling.mul_f64(fraction.clamp(0.0, 1.0))
}

/// The shortest attempt worth starting when the budget is nearly spent (or the whole timeout, if
/// that is shorter): an attempt cut to a few milliseconds could never succeed.
pub const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// The timeout of an attempt that starts `elapsed` into a request: the configured one, cut so the
/// attempt ends when the budget does, but never below [`MIN_ATTEMPT`]. This is what bounds a total
/// outage to about the budget: without the cut, a slow endpoint could add a whole timeout on top.
pub fn attempt_timeout(timeout: Duration, budget: Duration, elapsed: Duration) -> Duration {
    let left = budget.saturating_sub(elapsed);
    timeout.min(left.max(MIN_ATTEMPT))
}

/// Whether another attempt fits: attempts left, and the sleep before it ends within the budget.
pub fn should_retry(
    attempts_made: u32,
    max_attempts: u32,
    elapsed: Duration,
    next_delay: Duration,
    budget: Duration,
) -> bool {
    attempts_made < max_attempts && elapsed + next_delay <= budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let almost_one = 0.999_999;
        let ceilings: Vec<u128> = (1..=8)
            .map(|r| backoff_with(r, almost_one).as_millis())
            .collect();
        assert_eq!(ceilings, [199, 399, 799, 1599, 3199, 4999, 4999, 4999]);
        assert_eq!(backoff_with(1, 0.0), Duration::ZERO);
        assert_eq!(backoff_with(u32::MAX, 0.5), MAX_DELAY / 2);
    }

    #[test]
    fn jittered_backoff_stays_under_the_ceiling() {
        for retry in 1..10 {
            let delay = backoff(retry);
            assert!(delay <= MAX_DELAY);
            assert!(delay <= BASE_DELAY * (1 << (retry - 1)));
        }
    }

    #[test]
    fn transient_statuses_and_codes() {
        for status in [429, 500, 502, 503, 504] {
            assert!(is_transient_status(status));
        }
        for status in [200, 400, 401, 403, 404, 501] {
            assert!(!is_transient_status(status));
        }
        assert!(is_transient_ret_code(2000));
        assert!(is_transient_ret_code(2501));
        for code in [110, 130, 150, 153] {
            assert!(is_transient_ret_code(code), "{code}");
        }
        for code in [0, 100, 160, 170, 171, 172, 174, 230, 292, 299, 1999] {
            assert!(!is_transient_ret_code(code), "{code}");
        }
        assert!(is_slow_down_status(429) && !is_slow_down_status(503));
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn attempts_end_with_the_budget() {
        let s = Duration::from_secs;
        assert_eq!(attempt_timeout(s(10), s(30), s(0)), s(10));
        assert_eq!(attempt_timeout(s(10), s(30), s(25)), s(5));
        assert_eq!(attempt_timeout(s(10), s(30), s(30)), MIN_ATTEMPT);
        assert_eq!(attempt_timeout(s(10), s(30), s(99)), MIN_ATTEMPT);
        let short = Duration::from_millis(300);
        assert_eq!(attempt_timeout(short, s(2), s(2)), short);
    }

    /// The longest one request can take when every attempt fails after a duration an adversary
    /// picks (on a 1 s grid, up to that attempt's timeout) and every backoff draws its maximum.
    fn worst_case(timeout: Duration, budget: Duration, max_attempts: u32) -> Duration {
        fn go(elapsed: Duration, attempt: u32, opts: (Duration, Duration, u32)) -> Duration {
            let (timeout, budget, max_attempts) = opts;
            let limit = attempt_timeout(timeout, budget, elapsed);
            let mut durations: Vec<Duration> =
                (0..=limit.as_secs()).map(Duration::from_secs).collect();
            durations.push(limit);
            let mut worst = Duration::ZERO;
            for took in durations {
                let ended = elapsed + took;
                let delay = backoff_with(attempt, 0.999_999);
                let total = if should_retry(attempt, max_attempts, ended, delay, budget) {
                    go(ended + delay, attempt + 1, opts)
                } else {
                    ended
                };
                worst = worst.max(total);
            }
            worst
        }
        go(Duration::ZERO, 1, (timeout, budget, max_attempts))
    }

    /// The promise of the defaults (10 s timeout, 30 s budget, 6 attempts): however the attempts
    /// fail, one request gives up within the budget plus one short attempt, so a total outage
    /// ends well inside a minute. (Before attempts were cut to the budget, an attempt started at
    /// 29.9 s could run to 39.9 s.)
    #[test]
    fn a_total_outage_ends_within_the_budget_with_the_defaults() {
        let s = Duration::from_secs;
        let worst = worst_case(s(10), s(30), 6);
        assert!(worst <= s(30) + MIN_ATTEMPT, "{worst:?}");
        assert!(worst < s(45), "{worst:?}");
        // A tighter timeout than budget behaves the same way.
        let worst = worst_case(s(4), s(10), 6);
        assert!(worst <= s(10) + MIN_ATTEMPT, "{worst:?}");
    }

    #[test]
    fn retries_stop_at_attempts_or_budget() {
        let second = Duration::from_secs(1);
        assert!(should_retry(1, 6, second, second, 30 * second));
        assert!(!should_retry(6, 6, second, second, 30 * second));
        assert!(!should_retry(1, 6, 29 * second, 2 * second, 30 * second));
        assert!(should_retry(1, 6, 28 * second, 2 * second, 30 * second));
    }
}
