//! How many requests may be in flight right now: an adaptive limit, like TCP's congestion window.
//!
//! UCloud answers a rate-limited call with RetCode 153 (HTTP 429 from a gateway means the same).
//! On such an answer the limit is halved (never below one), once per "window": answers to
//! requests sent before the last cut do not cut again, so a burst of 153s from one moment counts
//! as one signal. Each success then grows the limit by `1 / limit`, about one request per
//! round trip's worth of successes, up to the configured ceiling. UCloud does not publish its rate
//! limits (not published; our choice): this finds the rate the API accepts instead of guessing it.

use std::sync::Mutex;

use tokio::sync::Notify;

/// The limit on requests in flight, shared by every request of one client.
#[derive(Debug)]
pub struct AdaptiveLimit {
    state: Mutex<State>,
    released: Notify,
}

#[derive(Debug)]
struct State {
    /// The current limit; fractional so that growth can be slow. At least 1.
    limit: f64,
    ceiling: usize,
    in_flight: usize,
    /// Bumped by every cut; a permit taken before the last cut does not cut again.
    generation: u64,
    /// How many cuts so far (for logs and tests).
    cuts: u64,
}

impl State {
    fn allowed(&self) -> usize {
        // Truncation is the point: 2.9 allows 2.
        (self.limit as usize).clamp(1, self.ceiling)
    }
}

/// The right to have one request in flight; released on drop.
#[derive(Debug)]
pub struct Permit<'a> {
    owner: &'a AdaptiveLimit,
    generation: u64,
}

impl AdaptiveLimit {
    /// Starts at the ceiling: an API without rate limits is never slowed down.
    pub fn new(ceiling: usize) -> Self {
        let ceiling = ceiling.max(1);
        Self {
            state: Mutex::new(State {
                limit: ceiling as f64,
                ceiling,
                in_flight: 0,
                generation: 0,
                cuts: 0,
            }),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent under every operation, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until one more request may be in flight.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before looking, so a release between the look and the wait is not missed.
            released.as_mut().enable();
            {
                let mut state = self.lock();
                if state.in_flight < state.allowed() {
                    state.in_flight += 1;
                    return Permit {
                        owner: self,
                        generation: state.generation,
                    };
                }
            }
            released.await;
        }
    }

    /// Requests allowed in flight now.
    pub fn current(&self) -> usize {
        self.lock().allowed()
    }

    /// How many times the limit was cut.
    pub fn cuts(&self) -> u64 {
        self.lock().cuts
    }
}

impl Permit<'_> {
    /// The request succeeded: grow the limit a little.
    pub fn succeeded(self) {
        let mut state = self.owner.lock();
        if state.limit < state.ceiling as f64 {
            state.limit = (state.limit + 1.0 / state.limit).min(state.ceiling as f64);
        }
    }

    /// The API said "slow down": halve the limit, unless a cut already answered the same moment.
    /// Returns whether this answer cut the limit.
    pub fn slowed_down(self) -> bool {
        let mut state = self.owner.lock();
        if self.generation != state.generation {
            return false;
        }
        let used = state.limit.min(state.in_flight as f64);
        state.limit = (used / 2.0).max(1.0);
        state.generation += 1;
        state.cuts += 1;
        true
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.owner.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        self.owner.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn halves_once_per_window_and_grows_back_slowly() {
        let limit = AdaptiveLimit::new(16);
        assert_eq!(limit.current(), 16);
        let permits: Vec<Permit<'_>> =
            futures_util::future::join_all((0..8).map(|_| limit.acquire())).await;
        // Eight answers of the same window: one cut, from the 8 actually in flight to 4.
        let mut cuts = 0;
        for permit in permits {
            cuts += usize::from(permit.slowed_down());
        }
        assert_eq!((cuts, limit.current(), limit.cuts()), (1, 4, 1));
        // A request sent after the cut cuts again, from what is actually in flight (one here),
        // and never below one.
        for _ in 0..3 {
            assert!(limit.acquire().await.slowed_down());
            assert_eq!(limit.current(), 1);
        }
        // Growth: +1/limit per success; from 1 one success reaches 2, three more reach 3 (2.5, 2.9, 3.2).
        let mut successes = 0;
        while limit.current() < 3 {
            limit.acquire().await.succeeded();
            successes += 1;
        }
        assert_eq!(successes, 4);
        // And it never passes the ceiling.
        for _ in 0..10_000 {
            limit.acquire().await.succeeded();
        }
        assert_eq!(limit.current(), 16);
    }

    #[tokio::test]
    async fn in_flight_never_exceeds_the_limit() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let limit = Arc::new(AdaptiveLimit::new(3));
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks = (0..40).map(|_| {
            let (limit, now, peak) = (limit.clone(), now.clone(), peak.clone());
            async move {
                let permit = limit.acquire().await;
                let inside = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(inside, Ordering::SeqCst);
                tokio::task::yield_now().await;
                now.fetch_sub(1, Ordering::SeqCst);
                drop(permit);
            }
        });
        futures_util::future::join_all(tasks).await;
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }
}
