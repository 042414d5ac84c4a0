//! A timer armed only when it is first needed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

pin_project! {
    /// A `Sleep` created on the first poll that needs it.
    ///
    /// Most calls answer before their timeout could matter: creating a
    /// `Sleep` clones the runtime's timer handle, so the success path skips it.
    #[project = TimerProj]
    pub(crate) enum Timer {
        Unarmed,
        Armed { #[pin] sleep: Sleep },
    }
}

impl Timer {
    /// Polls a timer that fires at `deadline`, arming it if needed.
    pub(crate) fn poll_until(
        mut self: Pin<&mut Self>,
        deadline: Instant,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        loop {
            match self.as_mut().project() {
                TimerProj::Unarmed => self.set(Timer::Armed {
                    sleep: tokio::time::sleep_until(deadline),
                }),
                TimerProj::Armed { mut sleep } => {
                    if sleep.deadline() != deadline {
                        sleep.as_mut().reset(deadline);
                    }
                    return sleep.poll(cx);
                }
            }
        }
    }
}
