//! Model registry: cold starts, shared loads, LRU eviction, counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::config::ModelSpec;

/// Counters of one model, from [`Emulator::stats`](super::Emulator::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Calls that reached the loaded model (whatever the inference result).
    pub invocations: u64,
    /// Loads started (cold starts).
    pub loads: u64,
    /// Times the model was evicted to make room for another.
    pub evictions: u64,
    /// 429 `ModelNotReadyException` answers.
    pub not_ready: u64,
}

/// Shared state of all models of an emulator.
#[derive(Debug)]
pub(crate) struct Registry {
    state: Mutex<State>,
    hold_timeout: Duration,
    max_load_time: Duration,
    memory: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    models: HashMap<String, Entry>,
    clock: u64,
    used: u64,
    next_load: u64,
}

#[derive(Debug)]
struct Entry {
    spec: ModelSpec,
    stats: ModelStats,
    status: Status,
    in_flight: u32,
    // Calls held for the model's load: like calls in flight, they keep
    // the model from being evicted once it has loaded.
    held: u32,
    last_used: u64,
}

impl Entry {
    /// Whether another model's load may evict this one: loaded, and no call
    /// uses it or waits for it.
    fn evictable(&self) -> bool {
        matches!(self.status, Status::Loaded) && self.in_flight == 0 && self.held == 0
    }
}

#[derive(Debug)]
enum Status {
    Unloaded,
    Loading {
        id: u64,
        ready_at: Instant,
        failure: Option<String>,
    },
    Loaded,
    Failed {
        id: u64,
        message: String,
        reported: bool,
    },
}

/// The outcome of asking for a model.
#[derive(Debug)]
pub(crate) enum Acquire {
    /// The model is loaded; the guard marks one in-flight invocation, which
    /// takes the model's latency.
    Ready((InFlight, Duration)),
    /// Still loading after the hold limit: answer `ModelNotReadyException`.
    NotReady,
    /// The load failed (or took longer than the maximum load time).
    Failed(String),
    /// The model does not fit in memory even after evicting every idle model.
    InsufficientMemory,
    /// No such model.
    Unknown,
}

/// One in-flight invocation of a loaded model: it cannot be evicted meanwhile.
#[derive(Debug)]
pub(crate) struct InFlight {
    registry: Arc<Registry>,
    model: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = self.registry.lock();
        st.clock += 1;
        let clock = st.clock;
        if let Some(e) = st.models.get_mut(&self.model) {
            e.in_flight = e.in_flight.saturating_sub(1);
            e.last_used = clock;
        }
    }
}

impl Registry {
    pub(crate) fn new(
        models: Vec<(String, ModelSpec)>,
        hold_timeout: Duration,
        max_load_time: Duration,
        memory: Option<u64>,
    ) -> Self {
        let models = models
            .into_iter()
            .map(|(name, spec)| {
                let entry = Entry {
                    spec,
                    stats: ModelStats::default(),
                    status: Status::Unloaded,
                    in_flight: 0,
                    held: 0,
                    last_used: 0,
                };
                (name, entry)
            })
            .collect();
        Self {
            state: Mutex::new(State {
                models,
                ..State::default()
            }),
            hold_timeout,
            max_load_time,
            memory,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.refresh(Instant::now());
        st
    }

    pub(crate) fn contains(&self, model: &str) -> bool {
        self.lock().models.contains_key(model)
    }

    pub(crate) fn stats(&self, model: &str) -> Option<ModelStats> {
        self.lock().models.get(model).map(|e| e.stats)
    }

    pub(crate) fn is_loaded(&self, model: &str) -> bool {
        matches!(
            self.lock().models.get(model).map(|e| &e.status),
            Some(Status::Loaded)
        )
    }

    pub(crate) fn memory_used(&self) -> u64 {
        self.lock().used
    }

    /// Waits (up to the hold limit) until `model` is loaded, starting its load if needed.
    pub(crate) async fn acquire(self: &Arc<Self>, model: &str) -> Acquire {
        let hold_deadline = crate::timer::after(Instant::now(), self.hold_timeout);
        // The load this call waits for, if any.
        let mut waiting_on = None;
        // Counted in the model's `held` while the call waits (also when the
        // call is dropped meanwhile).
        let mut held = Held {
            registry: self,
            model,
            counted: false,
        };
        loop {
            let wait_until = {
                let mut guard = self.lock();
                let st = &mut *guard;
                let now = Instant::now();
                let Some(entry) = st.models.get_mut(model) else {
                    return Acquire::Unknown;
                };
                match &mut entry.status {
                    Status::Loaded => {
                        st.clock += 1;
                        entry.in_flight += 1;
                        entry.last_used = st.clock;
                        entry.stats.invocations += 1;
                        return Acquire::Ready((
                            InFlight {
                                registry: Arc::clone(self),
                                model: model.to_owned(),
                            },
                            entry.spec.latency,
                        ));
                    }
                    Status::Loading { id, ready_at, .. } => {
                        waiting_on = Some(*id);
                        let ready_at = *ready_at;
                        held.count(entry);
                        ready_at
                    }
                    Status::Failed {
                        id,
                        message,
                        reported,
                    } if waiting_on == Some(*id) || !*reported => {
                        *reported = true;
                        return Acquire::Failed(message.clone());
                    }
                    Status::Failed { .. } | Status::Unloaded => {
                        match st.start_load(model, now, self.max_load_time, self.memory) {
                            Some((id, ready_at)) => {
                                waiting_on = Some(id);
                                if let Some(entry) = st.models.get_mut(model) {
                                    held.count(entry);
                                }
                                ready_at
                            }
                            None => return Acquire::InsufficientMemory,
                        }
                    }
                }
            };
            if Instant::now() >= hold_deadline {
                if let Some(e) = self.lock().models.get_mut(model) {
                    e.stats.not_ready += 1;
                }
                return Acquire::NotReady;
            }
            tokio::time::sleep_until(wait_until.min(hold_deadline)).await;
        }
    }
}

/// A call held for a model's load, counted in the model's `held`.
struct Held<'a> {
    registry: &'a Registry,
    model: &'a str,
    counted: bool,
}

impl Held<'_> {
    /// Counts the call as held for `entry` (its model's), once.
    fn count(&mut self, entry: &mut Entry) {
        if !self.counted {
            entry.held += 1;
            self.counted = true;
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.counted {
            if let Some(entry) = self.registry.lock().models.get_mut(self.model) {
                entry.held = entry.held.saturating_sub(1);
            }
        }
    }
}

impl State {
    /// Finishes the loads whose time has come.
    fn refresh(&mut self, now: Instant) {
        for e in self.models.values_mut() {
            if let Status::Loading {
                id,
                ready_at,
                failure,
            } = &mut e.status
            {
                if now >= *ready_at {
                    let id = *id;
                    e.status = match failure.take() {
                        None => {
                            // Loaded for the calls that asked for it: as
                            // recently used as a model can be.
                            self.clock += 1;
                            e.last_used = self.clock;
                            Status::Loaded
                        }
                        Some(message) => {
                            self.used = self.used.saturating_sub(e.spec.size);
                            Status::Failed {
                                id,
                                message,
                                reported: false,
                            }
                        }
                    };
                }
            }
        }
    }

    /// Reserves memory (evicting idle models, least recently used first) and
    /// starts a load; `None` when the model cannot fit.
    fn start_load(
        &mut self,
        model: &str,
        now: Instant,
        max_load_time: Duration,
        memory: Option<u64>,
    ) -> Option<(u64, Instant)> {
        let size = self.models.get(model)?.spec.size;
        if let Some(capacity) = memory {
            let evictable: u64 = self
                .models
                .iter()
                .filter(|(name, e)| name.as_str() != model && e.evictable())
                .map(|(_, e)| e.spec.size)
                .sum();
            if size > capacity
                || self.used.saturating_sub(evictable).saturating_add(size) > capacity
            {
                return None;
            }
            while self.used.saturating_add(size) > capacity {
                let victim = self
                    .models
                    .iter()
                    .filter(|(name, e)| name.as_str() != model && e.evictable())
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(name, _)| name.clone())?;
                let e = self.models.get_mut(&victim)?;
                e.status = Status::Unloaded;
                e.stats.evictions += 1;
                self.used = self.used.saturating_sub(e.spec.size);
                tracing::debug!(model = %victim, "emulator evicted model");
            }
        }
        self.used = self.used.saturating_add(size);
        let e = self.models.get_mut(model)?;
        e.stats.loads += 1;
        let (after, failure) = if e.spec.fail_load {
            (
                e.spec.load_time.min(max_load_time),
                Some(format!("Model {model} failed to load")),
            )
        } else if e.spec.load_time > max_load_time {
            (
                max_load_time,
                Some(format!(
                    "Model {model} did not load within the maximum load time of {} s",
                    max_load_time.as_secs_f64()
                )),
            )
        } else {
            (e.spec.load_time, None)
        };
        let ready_at = crate::timer::after(now, after);
        self.next_load += 1;
        let id = self.next_load;
        e.status = Status::Loading {
            id,
            ready_at,
            failure,
        };
        tracing::debug!(model, "emulator started loading model");
        Some((id, ready_at))
    }
}
