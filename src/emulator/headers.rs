//! `InvokeEndpoint`'s headers other than the target model (`Content-Type`
//! and `Accept` among them), as the emulator checks them.

use http::header::{ACCEPT, CONTENT_TYPE};

use super::answer::ErrorAnswer;
use crate::sagemaker::internal::DEFAULT_VARIANT_NAME;
use crate::sagemaker::{
    check_invoke_header, CUSTOM_ATTRIBUTES_HEADER, ENABLE_EXPLANATIONS_HEADER,
    INFERENCE_COMPONENT_HEADER, INFERENCE_ID_HEADER, SESSION_ID_HEADER,
    TARGET_CONTAINER_HOSTNAME_HEADER, TARGET_VARIANT_HEADER,
};

/// `InvokeEndpoint`'s other headers, each as the service checks it: the
/// value's form, then what this endpoint has (one variant, one container).
/// Whether the endpoint hosts the inference component named is for the
/// caller to check.
pub(super) fn check_invoke_headers(headers: &http::HeaderMap) -> Result<(), ErrorAnswer> {
    // The header, the member the service names in messages, and whether the
    // value may be echoed (custom attributes are the caller's secrets).
    let members = [
        (&CONTENT_TYPE, "contentType", true),
        (&ACCEPT, "accept", true),
        (&TARGET_VARIANT_HEADER, "targetVariant", true),
        (
            &TARGET_CONTAINER_HOSTNAME_HEADER,
            "targetContainerHostname",
            true,
        ),
        (&INFERENCE_ID_HEADER, "inferenceId", true),
        (&ENABLE_EXPLANATIONS_HEADER, "enableExplanations", true),
        (&INFERENCE_COMPONENT_HEADER, "inferenceComponentName", true),
        (&SESSION_ID_HEADER, "sessionId", true),
        (&CUSTOM_ATTRIBUTES_HEADER, "customAttributes", false),
    ];
    for (name, member, echo) in members {
        let Some(value) = headers.get(name) else {
            continue;
        };
        // Bytes that are not UTF-8 become U+FFFD, which no rule admits.
        let value = String::from_utf8_lossy(value.as_bytes());
        if let Err(e) = check_invoke_header(name, &value) {
            let shown = if echo {
                format!("Value '{value}' ")
            } else {
                "Value ".to_owned()
            };
            return Err(ErrorAnswer::validation(format!(
                "1 validation error detected: {shown}at '{member}' failed to satisfy constraint: {e}"
            )));
        }
        if *name == TARGET_VARIANT_HEADER && value != DEFAULT_VARIANT_NAME {
            return Err(ErrorAnswer::validation(format!(
                "The variant {value} is not one of the endpoint's production variants ({DEFAULT_VARIANT_NAME})."
            )));
        }
        if *name == TARGET_CONTAINER_HOSTNAME_HEADER {
            return Err(ErrorAnswer::validation(format!(
                "The endpoint is not a multi-container endpoint: it has no container {value}."
            )));
        }
    }
    Ok(())
}
