//! [`ColdStartsHttpClient`]: cold-start coalescing where the SDK has an
//! asynchronous hook, its HTTP connector.

use std::future::poll_fn;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

use super::calls::SdkCall;
use crate::retry::AttemptTimedOut;

/// An SDK HTTP client that wraps another and, for the calls of an SDK
/// client set up with cold-start coalescing
/// ([`LegacyRetries::coalesce_cold_starts`](crate::retry::LegacyRetries::coalesce_cold_starts)),
/// holds back each attempt while another call probes the same loading
/// model, as the crate's retry layer does (see
/// [`ColdStarts`](crate::retry::ColdStarts)).
///
/// The SDK's retry strategy cannot wait for anything but a fixed sleep; its
/// HTTP connector returns a future, so the waiting happens there:
///
/// - before sending, the attempt joins its key (host, endpoint,
///   `X-Amzn-SageMaker-Target-Model` and `X-Amzn-SageMaker-Inference-Component`)
///   and, when another call is probing it, waits for that probe's answer;
///   an attempt that waited is not sent: the SDK makes it again at once,
///   with a new signature, fresh credentials and the time it is really
///   sent (a signature some minutes old is refused by the service), and it
///   is not counted as an attempt (with
///   [`MultiModelEndpoint`](super::MultiModelEndpoint)'s settings; with
///   `MultiModelEndpoint::retry_quota(true)` it draws from the quota as a
///   retry does);
/// - each outcome is reported to the key once the SDK has parsed it
///   ([`LegacyRetriesInterceptor`](super::LegacyRetriesInterceptor) does:
///   429 `ModelNotReadyException`, a component's no-capacity answer, or
///   neither); a call that must wait for another's probe before its next
///   attempt gets no backoff sleep from
///   [`ModelNotReadyClassifier`](super::ModelNotReadyClassifier), and waits
///   here instead.
/// - For an inference component scaling from zero
///   ([`LegacyRetries::scale_from_zero`](crate::retry::LegacyRetries::scale_from_zero)),
///   the prober's paced retries keep reaching the endpoint (each failed call
///   is what the scale-out alarm counts); the other calls wait until the
///   component is ready or their `operation_timeout`, and the no-capacity
///   answers they wait through do not count as their attempts.
///
/// Requests of calls without [`LegacyRetriesInterceptor`](super::LegacyRetriesInterceptor)
/// state (another client's, or settings without coalescing) go through
/// untouched. The SDK's `operation_attempt_timeout` would count the wait:
/// `MultiModelEndpoint` turns it off and has the interceptor's
/// [`attempt_timeout`](super::LegacyRetriesInterceptor::attempt_timeout)
/// applied here, from the moment the request is sent; the SDK's
/// `operation_timeout` bounds the whole call, waits included. The SDK's
/// stalled-stream protection for uploads would take a waiting call's
/// unread request body for a stalled upload and fail the attempt
/// (`ThroughputBelowMinimum`) once its grace period (5 s) passed:
/// `MultiModelEndpoint` turns it off for uploads (downloads keep it). Used on
/// its own, set `StalledStreamProtectionConfig::enabled().upload_enabled(false)`
/// on the client too.
///
/// ```
/// use aws_smithy_runtime_api::client::http::SharedHttpClient;
/// use tower_sagemaker::aws_sdk::ColdStartsHttpClient;
///
/// fn coalescing(inner: SharedHttpClient) -> ColdStartsHttpClient {
///     // aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
///     //     .http_client(ColdStartsHttpClient::new(inner))
///     ColdStartsHttpClient::new(inner)
/// }
/// # let _ = coalescing;
/// ```
#[derive(Debug, Clone)]
pub struct ColdStartsHttpClient {
    inner: SharedHttpClient,
}

impl ColdStartsHttpClient {
    /// Wraps `inner`, the HTTP client that sends the requests.
    pub fn new(inner: impl HttpClient + 'static) -> Self {
        Self {
            inner: SharedHttpClient::new(inner),
        }
    }

    /// The wrapped HTTP client.
    pub fn get_inner(&self) -> &SharedHttpClient {
        &self.inner
    }
}

impl HttpClient for ColdStartsHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(ColdStartsConnector {
            inner: self.inner.http_connector(settings, components),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

/// The error of an attempt that waited for another call's probe and was not
/// sent: [`ModelNotReadyClassifier`](super::ModelNotReadyClassifier) retries
/// it at once, and the interceptors do not count it as an attempt.
#[derive(Debug)]
pub(super) struct WaitedForTurn;

impl std::fmt::Display for WaitedForTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("waited for another call's probe of the model: sent again, signed anew")
    }
}

impl std::error::Error for WaitedForTurn {}

#[derive(Debug)]
struct ColdStartsConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for ColdStartsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(call) = request.extension::<SdkCall>().cloned() else {
            return self.inner.call(request);
        };
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let watch = call.lock().before_send(request.uri(), request.headers());
            if let Some(mut watch) = watch {
                poll_fn(|cx| watch.poll_turn(cx)).await;
                let mut state = call.lock();
                state.waited();
                // The request was signed, and the SDK noted when it was
                // sent, before the wait: sent minutes later, its signature
                // could be too old for the service, its session credentials
                // expired, and the SDK's clock-skew estimate off by half the
                // wait. The SDK makes the attempt again at once, signed anew;
                // it is not counted as one.
                state.resend();
                return Err(ConnectorError::other(Box::new(WaitedForTurn), None));
            }
            let (timeout, attempt) = {
                let mut state = call.lock();
                state.sending();
                (state.attempt_timeout(), state.attempts())
            };
            let sent = inner.call(request);
            // The outcome is reported to the call's ticket once the SDK has
            // parsed it (`LegacyRetriesInterceptor`): a no-capacity answer
            // is told by its message.
            match timeout {
                Some(t) => match tokio::time::timeout(t, sent).await {
                    Ok(result) => result,
                    Err(_) => Err(ConnectorError::timeout(Box::new(AttemptTimedOut::new(
                        t, attempt,
                    )))),
                },
                None => sent.await,
            }
        })
    }
}
