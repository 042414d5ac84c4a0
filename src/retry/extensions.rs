//! The call's extension maps: the `Deadline` taken out of the request, and
//! `Attempts` and the `Deadline` put on the response, in a map reused from
//! the request where the response has none.

use http::Extensions;
use tower::BoxError;

use super::call::Call;
use super::request::Template;
use super::Attempts;
use crate::deadline::Deadline;

/// Takes the `Deadline` out of a request's extensions: this layer enforces
/// it on every attempt, and services beneath do not see it. When the map held
/// nothing else, the whole map is returned, `Deadline` inside, for the
/// response to carry; that copy no longer says that a `DeadlineLayer` above
/// enforces it (the returned one still does).
#[inline]
pub(super) fn take_deadline(extensions: &mut Extensions) -> (Option<Deadline>, Extensions) {
    let deadline = extensions.get_mut::<Deadline>().map(|d| {
        let found = *d;
        *d = found.enforced(false);
        found
    });
    if extensions.len() <= usize::from(deadline.is_some()) {
        return (deadline, std::mem::take(extensions));
    }
    if deadline.is_some() {
        extensions.remove::<Deadline>();
    }
    (deadline, Extensions::new())
}

/// The caller's answer: on a response, `Attempts` and the call's `Deadline`
/// go into its extensions. A response without extensions gets a map reused
/// from the request where there is one; a map the response has already (an
/// HTTP client's connection info) takes them in place.
///
/// Works in place: a response is large, and every move of it is a copy.
pub(super) fn finish<B: Clone, R>(
    outcome: &mut Result<http::Response<R>, BoxError>,
    call: &Call,
    kept: &mut Extensions,
    template: &mut Template<B>,
) {
    let Ok(res) = outcome else { return };
    let extensions = res.extensions_mut();
    // A kept map that is not empty holds the deadline already.
    let mut has_deadline = false;
    if extensions.is_empty() {
        has_deadline = !kept.is_empty();
        *extensions = match has_deadline {
            true => std::mem::take(kept),
            false => template.take_extensions().unwrap_or_default(),
        };
    }
    if let (false, Some(deadline)) = (has_deadline, call.deadline()) {
        extensions.insert(deadline);
    }
    extensions.insert(Attempts(call.attempts()));
}
