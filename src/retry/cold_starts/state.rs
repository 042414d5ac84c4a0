//! The shared state of coalescing: a key per model, its entry, and whose
//! turn it is to ask the endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::header::HOST;
use http::{HeaderName, HeaderValue, Uri};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::sagemaker::{parse_invocations_path, INFERENCE_COMPONENT_HEADER, TARGET_MODEL_HEADER};

pub(super) struct Shared {
    pub(super) keys: Mutex<Keys>,
    pub(super) ready_marks: Duration,
}

#[derive(Default)]
pub(super) struct Keys {
    pub(super) map: HashMap<Key, Entry>,
    pub(super) next_id: u64,
    // Expired ready marks are swept when the map reaches this size.
    pub(super) sweep_at: usize,
}

/// What the endpoint loads: host, endpoint, and the target model or
/// inference component (or both) the request names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    endpoint: String,
    model: Option<HeaderValue>,
    component: Option<HeaderValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Readiness {
    // No call has had an answer yet.
    Unknown,
    // The last probe got `ModelNotReadyException`.
    Loading,
    Ready,
}

pub(super) struct Entry {
    // Calls holding a ticket for the key.
    pub(super) calls: usize,
    // The ticket of the call whose attempts ask the endpoint.
    pub(super) prober: Option<u64>,
    pub(super) readiness: Readiness,
    // `ModelNotReadyException` answers to probes so far.
    pub(super) failed_probes: u64,
    // No-capacity answers to probes so far: attempts only of the calls
    // whose no-capacity retries are not paced (they have no deadline).
    pub(super) no_capacity_probes: u64,
    // Kept after the last call until then (with ready marks).
    pub(super) ready_until: Option<Instant>,
    // Wakes the waiting calls when the key changes.
    pub(super) notify: Arc<Notify>,
}

impl Entry {
    pub(super) fn new(prober: u64) -> Self {
        Self {
            calls: 1,
            prober: Some(prober),
            readiness: Readiness::Unknown,
            failed_probes: 0,
            no_capacity_probes: 0,
            ready_until: None,
            notify: Arc::new(Notify::new()),
        }
    }

    pub(super) fn is_marked_ready(&self, now: Instant) -> bool {
        self.readiness == Readiness::Ready && self.ready_until.is_some_and(|t| t > now)
    }

    /// The failed probes that count as attempts of a call that waits through
    /// them: the model's 429s, and with `no_capacity` the no-capacity answers.
    pub(super) fn failures(&self, no_capacity: bool) -> u64 {
        match no_capacity {
            true => self.failed_probes.saturating_add(self.no_capacity_probes),
            false => self.failed_probes,
        }
    }
}

/// What a call does next for its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Send an attempt now.
    Send,
    /// Wait: another call is probing.
    Wait,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Keys> {
        // The state stays consistent at every unlock: a panic elsewhere
        // cannot leave it half-written.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Keys {
    /// Removes expired ready marks: when the map has doubled since the last
    /// sweep (so sweeps cost O(1) per call over time), or `at_once`.
    pub(super) fn sweep(&mut self, now: Instant, at_once: bool) {
        if self.map.len() < self.sweep_at && !at_once {
            return;
        }
        self.map
            .retain(|_, e| e.calls > 0 || e.is_marked_ready(now));
        self.sweep_at = (self.map.len() * 2).max(64);
    }
}

/// A call's turn for a key it is registered for: send when the key is
/// ready or nobody probes it (then the call probes it), wait otherwise.
pub(super) fn take_turn(entry: &mut Entry, id: u64) -> Turn {
    match entry.prober {
        Some(prober) if prober != id => Turn::Wait,
        Some(_) => Turn::Send,
        None if entry.readiness == Readiness::Ready => Turn::Send,
        None => {
            entry.prober = Some(id);
            Turn::Send
        }
    }
}

impl Key {
    pub(super) fn of<'a>(
        uri: &Uri,
        header: impl Fn(&HeaderName) -> Option<&'a HeaderValue>,
    ) -> Option<Self> {
        let model = header(&TARGET_MODEL_HEADER).cloned();
        let component = header(&INFERENCE_COMPONENT_HEADER).cloned();
        if model.is_none() && component.is_none() {
            return None;
        }
        let host = match uri.authority() {
            Some(authority) => authority.as_str(),
            None => header(&HOST).and_then(|h| h.to_str().ok()).unwrap_or(""),
        };
        let path = uri.path();
        let endpoint = parse_invocations_path(path).unwrap_or(path);
        Some(Self {
            endpoint: format!("{host}/{endpoint}"),
            model,
            component,
        })
    }
}
