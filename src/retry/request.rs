//! What each attempt sends: a copy of the caller's request, and the
//! headers that tell the attempts of a call apart (`amz-sdk-invocation-id`,
//! `amz-sdk-request`).

use http::{HeaderValue, Request};

/// A copy of `req` for one more attempt, extensions included (the layer's
/// retries, and the policy's `clone_request`).
pub(crate) fn copy_request<B: Clone>(req: &Request<B>) -> Request<B> {
    let mut copy = Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    copy
}

/// A new `amz-sdk-invocation-id`: a version 4 UUID, as the AWS SDKs make one.
///
/// Its bytes are owned by a reference-counted buffer, so a request
/// copy's clone of it is a count increment (a value copied from a slice would
/// allocate a second time on its first clone).
pub(crate) fn invocation_id() -> HeaderValue {
    let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text);
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text)).expect("a UUID is ASCII")
}

/// `amz-sdk-request` for attempt `attempt` of `max`: `attempt=N; max=M`.
pub(crate) fn sdk_request(attempt: u32, max: u32) -> HeaderValue {
    // botocore's default of 5 attempts, made at compile time; a `static`,
    // as a `const` array would be built and dropped on every call.
    static OF_FIVE: [HeaderValue; 5] = [
        HeaderValue::from_static("attempt=1; max=5"),
        HeaderValue::from_static("attempt=2; max=5"),
        HeaderValue::from_static("attempt=3; max=5"),
        HeaderValue::from_static("attempt=4; max=5"),
        HeaderValue::from_static("attempt=5; max=5"),
    ];
    match OF_FIVE.get(attempt.wrapping_sub(1) as usize) {
        Some(value) if max == 5 => value.clone(),
        _ => HeaderValue::try_from(format!("attempt={attempt}; max={max}")).expect("ASCII"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_whole_request() {
        let mut req = Request::put("http://h/endpoints/e/invocations?x=1")
            .version(http::Version::HTTP_2)
            .header("content-type", "text/csv")
            .header("x-multi", "a")
            .header("x-multi", "b")
            .body(String::from("1,2"))
            .unwrap();
        req.extensions_mut().insert(7u8);
        let copy = copy_request(&req);
        assert_eq!(copy.method(), req.method());
        assert_eq!(copy.uri(), req.uri());
        assert_eq!(copy.version(), req.version());
        assert_eq!(copy.headers(), req.headers());
        let multi: Vec<_> = copy.headers().get_all("x-multi").iter().collect();
        assert_eq!(multi, ["a", "b"]);
        assert_eq!(copy.body(), "1,2");
        assert_eq!(copy.extensions().get::<u8>(), Some(&7));
    }

    #[test]
    fn attempt_header_values() {
        assert_eq!(sdk_request(1, 5), "attempt=1; max=5");
        assert_eq!(sdk_request(5, 5), "attempt=5; max=5");
        assert_eq!(sdk_request(6, 5), "attempt=6; max=5");
        assert_eq!(sdk_request(2, 3), "attempt=2; max=3");
        assert_eq!(sdk_request(0, 1), "attempt=0; max=1");
        let (a, b) = (invocation_id(), invocation_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
    }
}
