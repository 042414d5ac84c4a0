//! What each attempt sends: the caller's request, rebuilt for each retry,
//! and the headers that tell the attempts of a call apart
//! (`amz-sdk-invocation-id`, `amz-sdk-request`).

use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};

/// A request's parts, kept to rebuild it for each retry.
///
/// The first attempt sends the caller's request itself; this keeps what a
/// retry needs, in one allocation: headers as a flat list rather than a
/// `HeaderMap` clone (which costs two), rebuilt into a map only when a retry
/// happens, which most calls never do. The parts stay inline, not boxed:
/// a box would be a second allocation.
pub(crate) struct Template<B>(Parts<B>);

struct Parts<B> {
    method: Method,
    uri: Uri,
    version: Version,
    headers: Vec<(HeaderName, HeaderValue)>,
    extensions: Extensions,
    body: B,
}

impl<B: Clone> Template<B> {
    /// Captures what `req` needs to be sent again.
    #[inline]
    pub(crate) fn capture(req: &Request<B>) -> Self {
        let extensions = if req.extensions().is_empty() {
            Extensions::new()
        } else {
            req.extensions().clone()
        };
        let mut headers = Vec::with_capacity(req.headers().len());
        for (name, value) in req.headers() {
            headers.push((name.clone(), value.clone()));
        }
        Self(Parts {
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers,
            extensions,
            body: req.body().clone(),
        })
    }

    /// A copy of the captured request, for one more attempt.
    pub(crate) fn request(&self) -> Request<B> {
        let parts = &self.0;
        let mut req = Request::new(parts.body.clone());
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = parts.uri.clone();
        *req.version_mut() = parts.version;
        let mut headers = HeaderMap::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            headers.append(name.clone(), value.clone());
        }
        *req.headers_mut() = headers;
        if !parts.extensions.is_empty() {
            *req.extensions_mut() = parts.extensions.clone();
        }
        req
    }

    /// The copied extension map, cleared, when there was one to copy: the
    /// response can reuse its allocation. Later copies get no extensions.
    pub(crate) fn take_extensions(&mut self) -> Option<Extensions> {
        if self.0.extensions.is_empty() {
            return None;
        }
        let mut extensions = std::mem::take(&mut self.0.extensions);
        extensions.clear();
        Some(extensions)
    }
}

/// The parts of a request that coalescing and the events read.
pub(crate) trait Head {
    /// The request's URI.
    fn uri(&self) -> &Uri;
    /// The request's first value of header `name`.
    fn header(&self, name: &HeaderName) -> Option<&HeaderValue>;
}

impl<B> Head for Template<B> {
    fn uri(&self) -> &Uri {
        &self.0.uri
    }

    fn header(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.0
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

impl<B> Head for Request<B> {
    fn uri(&self) -> &Uri {
        Request::uri(self)
    }

    fn header(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.headers().get(name)
    }
}

/// A new `amz-sdk-invocation-id`: a version 4 UUID, as the AWS SDKs make one.
///
/// Its bytes are owned by a reference-counted buffer, so the retry
/// template's copy is a count increment (a value copied from a slice would
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
    fn rebuilds_the_same_request() {
        let mut req = Request::put("http://h/endpoints/e/invocations?x=1")
            .version(Version::HTTP_2)
            .header("content-type", "text/csv")
            .header("x-multi", "a")
            .header("x-multi", "b")
            .header("x-a", "1")
            .header("x-b", "2")
            .header("x-c", "3")
            .body(String::from("1,2"))
            .unwrap();
        req.extensions_mut().insert(7u8);
        let mut template = Template::capture(&req);
        for copy in [template.request(), template.request()] {
            assert_eq!(copy.method(), req.method());
            assert_eq!(copy.uri(), req.uri());
            assert_eq!(copy.version(), req.version());
            assert_eq!(copy.headers(), req.headers());
            let multi: Vec<_> = copy.headers().get_all("x-multi").iter().collect();
            assert_eq!(multi, ["a", "b"]);
            assert_eq!(copy.body(), "1,2");
            assert_eq!(copy.extensions().get::<u8>(), Some(&7));
        }
        assert_eq!(req.extensions().get::<u8>(), Some(&7));
        assert!(template.take_extensions().unwrap().is_empty());
        assert!(template.request().extensions().is_empty());
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

    #[test]
    fn no_extensions_no_map() {
        let req = Request::new(());
        let mut template = Template::capture(&req);
        assert!(template.request().extensions().is_empty());
        assert!(template.take_extensions().is_none());
    }
}
