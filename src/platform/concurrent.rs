//! Runs a batch's items concurrently, at most `limit` at a time, on the one thread a
//! worker has (no tasks, no executor: one future polls the running ones). Used by the
//! queue consumer so a batch's jobs wait for their provider calls side by side.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What one invocation may have waiting on responses at once: Cloudflare queues a 7th
/// simultaneous outgoing connection until one of six gets its response headers
/// (https://developers.cloudflare.com/workers/platform/limits/). A job is claimed only
/// when it starts, so a job waiting for a slot does not burn its lease.
pub const MAX_IN_FLIGHT: usize = 6;

/// Runs `f` on every item, at most `limit` (at least 1) at a time, started in order;
/// answers the outputs in the items' order.
pub async fn bounded<T, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<Fut::Output>
where
    F: FnMut(T) -> Fut,
    Fut: Future,
{
    let count = items.len();
    Bounded {
        waiting: items.into_iter().enumerate().collect(),
        running: Vec::new(),
        done: (0..count).map(|_| None).collect(),
        limit: limit.max(1),
        f,
    }
    .await
}

struct Bounded<T, F, Fut: Future> {
    waiting: VecDeque<(usize, T)>,
    running: Vec<(usize, Pin<Box<Fut>>)>,
    done: Vec<Option<Fut::Output>>,
    limit: usize,
    f: F,
}

// Nothing is pinned in place: the running futures are boxed.
impl<T, F, Fut: Future> Unpin for Bounded<T, F, Fut> {}

impl<T, F, Fut> Future for Bounded<T, F, Fut>
where
    F: FnMut(T) -> Fut,
    Fut: Future,
{
    type Output = Vec<Fut::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            while this.running.len() < this.limit {
                let Some((index, item)) = this.waiting.pop_front() else { break };
                this.running.push((index, Box::pin((this.f)(item))));
            }
            let before = this.running.len();
            let mut i = 0;
            while i < this.running.len() {
                if let Poll::Ready(out) = this.running[i].1.as_mut().poll(cx) {
                    let (index, _) = this.running.swap_remove(i);
                    this.done[index] = Some(out);
                } else {
                    i += 1;
                }
            }
            if this.running.is_empty() && this.waiting.is_empty() {
                return Poll::Ready(this.done.drain(..).map(|o| o.expect("every item ran")).collect());
            }
            // Something finished and freed a slot: start the next ones now.
            if this.running.len() == before || this.waiting.is_empty() {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;
    use proptest::prelude::*;
    use std::cell::Cell;

    /// A future that is pending `polls` times before answering.
    struct After {
        polls: u32,
        value: u32,
    }

    impl Future for After {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            if self.polls == 0 {
                return Poll::Ready(self.value);
            }
            self.polls -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn an_empty_batch_answers_at_once() {
        let out: Vec<u32> = block_on(bounded(Vec::<u32>::new(), 3, |x| async move { x }));
        assert!(out.is_empty());
    }

    proptest! {
        #[test]
        fn every_item_runs_once_in_order_and_never_more_than_the_limit_at_once(
            delays in proptest::collection::vec(0u32..6, 0..40), limit in 0usize..8,
        ) {
            let in_flight = Cell::new(0usize);
            let peak = Cell::new(0usize);
            let started = Cell::new(0usize);
            let out = block_on(bounded(delays.iter().copied().enumerate().collect(), limit, |(i, polls)| {
                let (in_flight, peak, started) = (&in_flight, &peak, &started);
                async move {
                    started.set(started.get() + 1);
                    in_flight.set(in_flight.get() + 1);
                    peak.set(peak.get().max(in_flight.get()));
                    let v = After { polls, value: i as u32 }.await;
                    in_flight.set(in_flight.get() - 1);
                    v
                }
            }));
            prop_assert_eq!(out, (0..delays.len() as u32).collect::<Vec<_>>());
            prop_assert_eq!(started.get(), delays.len());
            prop_assert!(peak.get() <= limit.max(1));
            if delays.iter().all(|d| *d > 0) && !delays.is_empty() {
                // Slow items overlap up to the limit.
                prop_assert_eq!(peak.get(), limit.max(1).min(delays.len()));
            }
        }
    }
}
