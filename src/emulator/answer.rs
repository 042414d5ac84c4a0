//! How the emulator renders its answers: restJson1 error responses.

use std::io;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::error_code::ErrorCode;
use crate::sagemaker::internal::{DEFAULT_VARIANT_NAME, EMULATOR_ACCOUNT_ID, ERROR_TYPE_SUFFIX};
use crate::sagemaker::{ERROR_TYPE_HEADER, REQUEST_ID_HEADER};

/// What a request comes to before it is a response.
pub(super) enum Outcome {
    Response(Response<Full<Bytes>>),
    Error(ErrorAnswer),
    /// A fault: the connection is dropped with no response.
    Drop,
    /// A fault: no answer ever.
    Stall,
    /// The request body could not be read: the connection is dropped.
    Unreadable(io::Error),
}

impl From<ErrorAnswer> for Outcome {
    fn from(answer: ErrorAnswer) -> Self {
        Outcome::Error(answer)
    }
}

/// An error answer: status, code and JSON body, and at most one more header.
pub(super) struct ErrorAnswer {
    pub(super) status: StatusCode,
    pub(super) code: String,
    body: serde_json::Value,
    // Boxed: answers travel in `Result`s, and most have no extra header.
    header: Option<Box<(HeaderName, HeaderValue)>>,
}

impl ErrorAnswer {
    pub(super) fn new(status: StatusCode, code: ErrorCode<'_>, message: impl Into<String>) -> Self {
        Self::raw(status, code.as_str(), message)
    }

    pub(super) fn raw(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            body: serde_json::json!({ "message": message.into() }),
            header: None,
        }
    }

    /// A 400 `ValidationError`.
    pub(super) fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::VALIDATION_ERROR,
            message,
        )
    }

    /// Adds a header to the answer.
    pub(super) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.header = Some(Box::new((name, value)));
        self
    }

    /// A 424 `ModelError`: the model container answered `original_status`.
    pub(super) fn model_error(
        region: &str,
        endpoint: &str,
        model: &str,
        original_status: u16,
        original_message: &str,
    ) -> Self {
        let side = if original_status >= 500 {
            "server"
        } else {
            "client"
        };
        let log_group = format!("/aws/sagemaker/Endpoints/{endpoint}");
        let message = format!(
            "Received {side} error ({original_status}) from model with message \"{original_message}\". See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:group={log_group} in account {EMULATOR_ACCOUNT_ID} for more information."
        );
        Self {
            status: StatusCode::FAILED_DEPENDENCY,
            code: ErrorCode::MODEL_ERROR.as_str().to_owned(),
            body: serde_json::json!({
                "message": message,
                "OriginalStatusCode": original_status,
                "OriginalMessage": original_message,
                "LogStreamArn": format!(
                    "arn:aws:logs:{region}:{EMULATOR_ACCOUNT_ID}:log-group:{log_group}:log-stream:{DEFAULT_VARIANT_NAME}/{model}"
                ),
            }),
            header: None,
        }
    }

    pub(super) fn into_response(self, request_id: &str) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(Bytes::from(self.body.to_string())));
        *res.status_mut() = self.status;
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&format!("{}{ERROR_TYPE_SUFFIX}", self.code)) {
            h.insert(ERROR_TYPE_HEADER, v);
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert(REQUEST_ID_HEADER, v);
        }
        if let Some(header) = self.header {
            let (name, value) = *header;
            h.insert(name, value);
        }
        res
    }
}
