//! Faults injected into an emulator's answers.

use std::collections::VecDeque;

use http::StatusCode;

/// A fault to inject with [`Emulator::inject`](super::Emulator::inject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this error (restJson1 form: `X-Amzn-ErrorType: code`, JSON `message`).
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The error code, e.g. `ServiceUnavailable`.
        code: String,
        /// The message.
        message: String,
    },
    /// Close the connection without a response (in-process: an
    /// [`std::io::Error`] of kind `ConnectionReset`).
    DropConnection,
    /// Never answer.
    Stall,
}

/// Which calls a [`Fault`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultScope {
    /// Any valid call, to a model or to an inference component.
    Any,
    /// Calls for this target model.
    Model(String),
}

/// Pending faults, consumed in the order they were injected.
#[derive(Debug, Default)]
pub(super) struct Faults(VecDeque<Injected>);

#[derive(Debug)]
struct Injected {
    fault: Fault,
    scope: FaultScope,
    remaining: u32,
}

impl Faults {
    pub(super) fn push(&mut self, fault: Fault, scope: FaultScope, count: u32) {
        if count > 0 {
            self.0.push_back(Injected {
                fault,
                scope,
                remaining: count,
            });
        }
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    /// The first pending fault whose scope covers a call for `model` (`None`:
    /// a call for an inference component, which only [`FaultScope::Any`]
    /// covers), used up once.
    pub(super) fn take(&mut self, model: Option<&str>) -> Option<Fault> {
        let i = self.0.iter().position(|f| match &f.scope {
            FaultScope::Any => true,
            FaultScope::Model(m) => Some(m.as_str()) == model,
        })?;
        let entry = &mut self.0[i];
        entry.remaining = entry.remaining.saturating_sub(1);
        let fault = entry.fault.clone();
        if entry.remaining == 0 {
            self.0.remove(i);
        }
        Some(fault)
    }
}
