//! What later attempts are rebuilt from.

use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};

/// A request's parts, kept to rebuild it for each retry.
///
/// The first attempt sends the caller's request itself; this keeps what a
/// retry needs. Headers are kept as one flat list (one allocation) rather
/// than as a `HeaderMap` clone (two): most calls never retry, so the map is
/// rebuilt only when one does.
pub(crate) struct Template<B> {
    method: Method,
    uri: Uri,
    version: Version,
    headers: Vec<(HeaderName, HeaderValue)>,
    extensions: Extensions,
    body: B,
}

impl<B: Clone> Template<B> {
    /// Captures what `req` needs to be sent again. An empty extension map
    /// moves here (the request keeps an unallocated one), so the response's
    /// `Attempts` can reuse its allocation later.
    pub(crate) fn capture(req: &mut Request<B>) -> Self {
        let mut headers = Vec::with_capacity(req.headers().len());
        headers.extend(req.headers().iter().map(|(n, v)| (n.clone(), v.clone())));
        let extensions = if req.extensions().is_empty() {
            std::mem::take(req.extensions_mut())
        } else {
            req.extensions().clone()
        };
        Self {
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers,
            extensions,
            body: req.body().clone(),
        }
    }

    /// A copy of the captured request, for one more attempt.
    pub(crate) fn request(&self) -> Request<B> {
        let mut req = Request::new(self.body.clone());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        let mut headers = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        *req.headers_mut() = headers;
        if !self.extensions.is_empty() {
            *req.extensions_mut() = self.extensions.clone();
        }
        req
    }

    /// The extension map, for the response: cleared, allocation kept.
    pub(crate) fn into_extensions(self) -> Extensions {
        let mut extensions = self.extensions;
        extensions.clear();
        extensions
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
            .body(String::from("1,2"))
            .unwrap();
        req.extensions_mut().insert(7u8);
        let template = Template::capture(&mut req);
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
        // Non-empty extensions stay with the request too.
        assert_eq!(req.extensions().get::<u8>(), Some(&7));
        assert!(template.into_extensions().is_empty());
    }

    #[test]
    fn an_empty_extension_map_moves_to_the_template() {
        let mut req = Request::new(());
        req.extensions_mut().insert(1u8);
        req.extensions_mut().remove::<u8>();
        let template = Template::capture(&mut req);
        assert!(req.extensions().is_empty());
        assert!(template.request().extensions().is_empty());
    }
}
