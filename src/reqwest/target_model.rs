//! [`TargetModelMiddleware`]: the target model of reqwest-middleware calls.

use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use crate::target_model::TargetModel;

/// Sets `X-Amzn-SageMaker-Target-Model` on requests: from a [`TargetModel`]
/// in the request's middleware extensions (`RequestBuilder::with_extension`),
/// else the middleware's default. A header the request already has is kept
/// unless `TargetModel::new` would reject it, as
/// [`TargetModelLayer`](crate::target_model::TargetModelLayer) does.
///
/// ```no_run
/// use tower_sagemaker::reqwest::TargetModelMiddleware;
/// use tower_sagemaker::target_model::TargetModel;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// // No default model: each request names its own.
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(TargetModelMiddleware::per_request())
///     .build();
/// let res = client
///     .post("http://127.0.0.1:8080/endpoints/demo/invocations")
///     .with_extension(TargetModel::new("model-7.tar.gz")?)
///     .header("content-type", "text/csv")
///     .body("1.0,2.0")
///     .send()
///     .await?;
/// # let _ = res; Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TargetModelMiddleware {
    model: Option<TargetModel>,
}

impl TargetModelMiddleware {
    /// Sets `model` on requests without one of their own.
    pub fn new(model: TargetModel) -> Self {
        Self { model: Some(model) }
    }

    /// Sets only the model a request carries in its extensions.
    pub fn per_request() -> Self {
        Self { model: None }
    }

    /// The default model, if any.
    pub fn get_model(&self) -> Option<&TargetModel> {
        self.model.as_ref()
    }
}

#[async_trait::async_trait]
impl Middleware for TargetModelMiddleware {
    async fn handle(
        &self,
        mut req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        let model = extensions
            .get::<TargetModel>()
            .or(self.model.as_ref())
            .map(|model| model.header_value().clone());
        crate::target_model::set_header(req.headers_mut(), model);
        next.run(req, extensions).await
    }
}
