//! Injected failures. The decision for the n-th API request depends only on `(seed, n)`, so a
//! seed replays the same faults in the same order however requests interleave in time.

use std::fmt;
use std::str::FromStr;

/// One kind of injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// HTTP 503 Service Unavailable.
    Http503,
    /// HTTP 502 Bad Gateway.
    Http502,
    /// HTTP 429 Too Many Requests.
    Http429,
    /// HTTP 200 with `RetCode` 2000 "Internal Error".
    RetCode2000,
    /// HTTP 200 with `RetCode` 150, UCloud's documented "service unavailable".
    RetCode150,
    /// HTTP 200 with `RetCode` 153, UCloud's documented rate-limit answer ("API 请求被限流").
    RetCode153,
    /// The connection is closed without any response.
    Reset,
    /// `Content-Length` promises more than is sent, then the connection closes.
    Truncated,
    /// The (correct) answer arrives only after the `slow` delay.
    Slow,
}

impl Fault {
    /// Every kind, in the order they are drawn from.
    pub const ALL: [Fault; 9] = [
        Fault::Http503,
        Fault::Http502,
        Fault::Http429,
        Fault::RetCode2000,
        Fault::RetCode150,
        Fault::RetCode153,
        Fault::Reset,
        Fault::Truncated,
        Fault::Slow,
    ];

    /// Every kind that answers at once: an outage made of these fails fast, without waiting for
    /// the client's timeout as `Slow` does.
    pub const FAST: [Fault; 8] = [
        Fault::Http503,
        Fault::Http502,
        Fault::Http429,
        Fault::RetCode2000,
        Fault::RetCode150,
        Fault::RetCode153,
        Fault::Reset,
        Fault::Truncated,
    ];

    /// The name used by `--faults` and as the key in the stats' `faults` object.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Http503 => "http_503",
            Fault::Http502 => "http_502",
            Fault::Http429 => "http_429",
            Fault::RetCode2000 => "retcode_2000",
            Fault::RetCode150 => "retcode_150",
            Fault::RetCode153 => "retcode_153",
            Fault::Reset => "reset",
            Fault::Truncated => "truncated",
            Fault::Slow => "slow",
        }
    }

    /// The `RetCode` and `Message` of the kinds that answer with one.
    pub fn ret_code(self) -> Option<(i64, &'static str)> {
        match self {
            Fault::RetCode2000 => Some((2000, "Internal Error")),
            Fault::RetCode150 => Some((150, "Service Unavailable")),
            Fault::RetCode153 => Some((153, "API 请求被限流")),
            _ => None,
        }
    }

    /// Parses a comma-separated list such as `http_503,reset`.
    pub fn parse_list(list: &str) -> Result<Vec<Fault>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Fault::from_str)
            .collect()
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let alias = match s {
            "503" => "http_503",
            "502" => "http_502",
            "429" => "http_429",
            "retcode" | "retcode_2xxx" | "2000" => "retcode_2000",
            "retcode150" | "150" => "retcode_150",
            "retcode153" | "153" => "retcode_153",
            other => other,
        };
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == alias)
            .ok_or_else(|| {
                let names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault {s:?} (known: {})", names.join(", "))
            })
    }
}

/// splitmix64: decorrelates nearby (seed, n) pairs before they seed the RNG.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether (and how) the request with arrival index `n` fails.
pub fn decide(seed: u64, n: u64, rate: f64, kinds: &[Fault]) -> Option<Fault> {
    if rate <= 0.0 || kinds.is_empty() {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(mix(seed ^ mix(n)));
    if rng.f64() < rate {
        Some(kinds[rng.usize(..kinds.len())])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_roughly_at_rate() {
        let a: Vec<_> = (0..1000).map(|n| decide(7, n, 0.3, &Fault::ALL)).collect();
        let b: Vec<_> = (0..1000).map(|n| decide(7, n, 0.3, &Fault::ALL)).collect();
        let c: Vec<_> = (0..1000).map(|n| decide(8, n, 0.3, &Fault::ALL)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let hits = a.iter().filter(|f| f.is_some()).count();
        assert!((200..400).contains(&hits), "{hits}");
        for kind in Fault::ALL {
            assert!(a.contains(&Some(kind)), "{kind} never drawn");
        }
        assert!((0..100).all(|n| decide(1, n, 0.0, &Fault::ALL).is_none()));
        assert!((0..100).all(|n| decide(1, n, 1.0, &[Fault::Reset]) == Some(Fault::Reset)));
    }

    #[test]
    fn parse_list() {
        assert_eq!(
            Fault::parse_list("http_503, reset,429").unwrap(),
            vec![Fault::Http503, Fault::Reset, Fault::Http429]
        );
        assert_eq!(
            Fault::parse_list("retcode153,retcode_150").unwrap(),
            vec![Fault::RetCode153, Fault::RetCode150]
        );
        assert!(Fault::parse_list("bogus").is_err());
    }
}
