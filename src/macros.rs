//! Macros shared by the middleware modules.

/// Writes the accessors every middleware service has for the service it
/// wraps: `get_ref`, `get_mut` and `into_inner`, as tower's services have.
///
/// Use it inside `impl<S> Service<S> { .. }` of a struct whose wrapped
/// service is the field `inner: S`.
#[allow(unused_macros)]
macro_rules! inner_service_accessors {
    () => {
        /// The wrapped service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The wrapped service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps this middleware, returning the wrapped service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
