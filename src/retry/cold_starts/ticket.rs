//! One call's part in coalescing: its [`Ticket`] for a key.

use std::fmt;

use tokio::time::Instant;

use super::watch::{notified, Watch};
use super::{take_turn, ColdStarts, Entry, Key, Readiness, Turn};
use crate::retry::RetryReason;
use crate::timer::far_future;

/// One call's registration for its key; dropping it leaves the key (and
/// hands the prober role on).
pub(crate) struct Ticket {
    cold: ColdStarts,
    key: Key,
    id: u64,
    // The key's failed probes this call has counted.
    seen_failures: u64,
    // Those it waited through: each counts as one of its attempts.
    witnessed: u32,
    // Whether no-capacity probes count too (see `ColdStarts::join`).
    counts_no_capacity: bool,
}

impl Ticket {
    pub(super) fn new(
        cold: ColdStarts,
        key: Key,
        id: u64,
        seen_failures: u64,
        counts_no_capacity: bool,
    ) -> Self {
        Self {
            cold,
            key,
            id,
            seen_failures,
            witnessed: 0,
            counts_no_capacity,
        }
    }

    fn with_entry<T>(&self, f: impl FnOnce(&mut Entry, u64) -> T) -> T {
        let mut keys = self.cold.0.lock();
        let entry = keys
            .map
            .get_mut(&self.key)
            .expect("a key is held while a ticket for it lives");
        f(entry, self.id)
    }

    /// After a wait: counts the probes that failed meanwhile, each as one of
    /// the call's attempts.
    pub(crate) fn catch_up(&mut self) {
        let counts = self.counts_no_capacity;
        let failures = self.with_entry(|entry, _| entry.failures(counts));
        let witnessed = failures.saturating_sub(self.seen_failures);
        self.seen_failures = failures;
        self.witnessed = self
            .witnessed
            .saturating_add(u32::try_from(witnessed).unwrap_or(u32::MAX));
    }

    /// The failed probes of other calls this call waited through.
    pub(crate) fn witnessed(&self) -> u32 {
        self.witnessed
    }

    /// The one rule for a call after each attempt, whoever drives the call:
    /// reports how the attempt ended (`reason`, the classifier's) and
    /// returns the wait for another call's probe when the call is to wait
    /// rather than retry on its own.
    ///
    /// `retrying`: the call would otherwise retry. `legacy` of `max`: the
    /// attempts it has spent of botocore's budget; it waits only with one to
    /// spare, and its wait ends when the rest have failed in other calls'
    /// probes. `paced`: a no-capacity answer paced under the deadline, which
    /// alone bounds the wait.
    pub(crate) fn after_attempt(
        &mut self,
        reason: Option<RetryReason>,
        paced: bool,
        legacy: u32,
        max: u32,
        retrying: bool,
    ) -> Option<Box<Watch>> {
        let not_ready = reason == Some(RetryReason::ModelNotReady);
        let failed = not_ready || reason == Some(RetryReason::NoCapacity);
        let may_wait = retrying && (paced || legacy < max);
        if self.report(failed, not_ready, may_wait) != Turn::Wait {
            return None;
        }
        let budget = if paced { u32::MAX } else { max - legacy };
        Some(Box::new(self.watch(budget)))
    }

    /// Records how the call's attempt ended: `not_ready` when the model is
    /// loading or the component has no copy, `model` when it is a model's
    /// 429 (every waiter counts such a failed probe as one of its attempts;
    /// a component's no-capacity answer counts only for waiters without a
    /// deadline, see [`ColdStarts::join`]).
    /// Returns [`Turn::Wait`] when the key is not ready, another call probes
    /// it and `may_wait` allows the call to wait for it rather than retry on
    /// its own.
    fn report(&mut self, not_ready: bool, model: bool, may_wait: bool) -> Turn {
        let counts = self.counts_no_capacity;
        let (turn, failures) = self.with_entry(|entry, id| {
            let probing = entry.prober == Some(id);
            let turn = if not_ready {
                entry.readiness = Readiness::Loading;
                if probing {
                    // Waiters wake to count the failure.
                    match model {
                        true => entry.failed_probes += 1,
                        false => entry.no_capacity_probes += 1,
                    }
                    entry.notify.notify_waiters();
                    Turn::Send
                } else if entry.prober.is_none() || !may_wait {
                    take_turn(entry, id);
                    Turn::Send
                } else {
                    Turn::Wait
                }
            } else {
                if probing {
                    entry.readiness = Readiness::Ready;
                    entry.prober = None;
                    entry.notify.notify_waiters();
                }
                Turn::Send
            };
            (turn, entry.failures(counts))
        });
        // A call that starts waiting counts the probes from now on.
        self.seen_failures = failures;
        turn
    }

    /// The wait of a call that [`report`](Self::report)ed [`Turn::Wait`]:
    /// it ends when the call's turn comes (the key is ready, or the prober
    /// left and this call takes its role) or when `budget` more probes have
    /// failed (the call then has one attempt left, and makes it).
    pub(crate) fn watch(&self, budget: u32) -> Watch {
        let notify = self.with_entry(|entry, _| entry.notify.clone());
        Watch {
            cold: self.cold.clone(),
            key: self.key.clone(),
            id: self.id,
            counts_no_capacity: self.counts_no_capacity,
            until_failures: self.seen_failures.saturating_add(u64::from(budget)),
            notified: notified(&notify),
            notify,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut keys = self.cold.0.lock();
        let now = Instant::now();
        let Some(entry) = keys.map.get_mut(&self.key) else {
            return;
        };
        entry.calls -= 1;
        if entry.prober == Some(self.id) {
            entry.prober = None;
            entry.notify.notify_waiters();
        }
        if entry.calls == 0 {
            // A ready mark lasts from the key's last call on.
            if entry.readiness == Readiness::Ready {
                let ttl = self.cold.0.ready_marks;
                // A mark past the clock's range (`Duration::MAX`) lasts for ever.
                entry.ready_until = Some(now.checked_add(ttl).unwrap_or_else(|| far_future(now)));
            }
            if !entry.is_marked_ready(now) {
                keys.map.remove(&self.key);
            }
        }
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("key", &self.key)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
