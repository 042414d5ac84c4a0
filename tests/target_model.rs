//! `TargetModel` validation and `TargetModelLayer`.
#![cfg(feature = "target-model")]

use bytes::Bytes;
use http_body_util::Full;
use proptest::prelude::*;
use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
use tower_sagemaker::sagemaker::TARGET_MODEL_HEADER;
use tower_sagemaker::target_model::{InvalidTargetModel, TargetModel, TargetModelLayer};

type Req = http::Request<Full<Bytes>>;

/// An inner service that answers with the header it received (or "-").
fn echo() -> impl Service<Req, Response = http::Response<String>, Error = BoxError> + Clone {
    service_fn(|req: Req| async move {
        let seen = req
            .headers()
            .get_all(TARGET_MODEL_HEADER)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("|");
        Ok::<_, BoxError>(http::Response::new(if seen.is_empty() {
            "-".into()
        } else {
            seen
        }))
    })
}

fn model(s: &str) -> TargetModel {
    TargetModel::new(s).unwrap()
}

async fn seen(layer: TargetModelLayer, req: Req) -> String {
    ServiceBuilder::new()
        .layer(layer)
        .service(echo())
        .oneshot(req)
        .await
        .unwrap()
        .into_body()
}

#[tokio::test]
async fn injects_the_default_model() {
    let got = seen(
        TargetModelLayer::new(model("model-3.tar.gz")),
        Req::default(),
    )
    .await;
    assert_eq!(got, "model-3.tar.gz");
}

#[tokio::test]
async fn request_extension_overrides_the_default() {
    let mut req = Req::default();
    req.extensions_mut().insert(model("model-9.tar.gz"));
    let got = seen(TargetModelLayer::new(model("model-3.tar.gz")), req).await;
    assert_eq!(got, "model-9.tar.gz");
}

#[tokio::test]
async fn existing_header_is_kept_and_not_duplicated() {
    let mut req = Req::default();
    req.headers_mut()
        .insert(TARGET_MODEL_HEADER, "explicit.tar.gz".parse().unwrap());
    req.extensions_mut().insert(model("from-extension.tar.gz"));
    let got = seen(TargetModelLayer::new(model("default.tar.gz")), req).await;
    assert_eq!(got, "explicit.tar.gz");
}

#[tokio::test]
async fn per_request_only_sets_the_header_from_extensions() {
    assert_eq!(
        seen(TargetModelLayer::per_request(), Req::default()).await,
        "-"
    );
    let mut req = Req::default();
    req.extensions_mut().insert(model("m.tar.gz"));
    assert_eq!(seen(TargetModelLayer::per_request(), req).await, "m.tar.gz");
}

#[tokio::test]
async fn inner_errors_pass_through_unchanged() {
    #[derive(Debug, PartialEq)]
    struct Boom;
    let failing = service_fn(|_: Req| async { Err::<http::Response<()>, Boom>(Boom) });
    let svc = ServiceBuilder::new()
        .layer(TargetModelLayer::new(model("m")))
        .service(failing);
    // The error type is the inner service's own: no boxing, no new failure mode.
    let err: Boom = svc.oneshot(Req::default()).await.unwrap_err();
    assert_eq!(err, Boom);
}

#[test]
fn every_rule_is_reported() {
    assert_eq!(TargetModel::new(""), Err(InvalidTargetModel::Empty));
    assert_eq!(
        TargetModel::new("x".repeat(1025)),
        Err(InvalidTargetModel::TooLong { len: 1025 })
    );
    assert_eq!(
        TargetModel::new(" m"),
        Err(InvalidTargetModel::LeadingSpace)
    );
    assert_eq!(
        TargetModel::new("m "),
        Err(InvalidTargetModel::TrailingSpace)
    );
    assert!(matches!(
        TargetModel::new("m\u{0}"),
        Err(InvalidTargetModel::NotPrintableAscii { index: 1, byte: 0 })
    ));
    assert!(matches!(
        "m\n".parse::<TargetModel>(),
        Err(InvalidTargetModel::NotPrintableAscii {
            index: 1,
            byte: b'\n'
        })
    ));
    assert!(TargetModel::try_from("m\u{1F600}").is_err());
    assert!(TargetModel::try_from(String::from("x").repeat(1024)).is_ok());
}

fn valid_by_spec(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 1024
        && b.iter().all(|c| (0x20..=0x7e).contains(c))
        && b[0] != b' '
        && b[b.len() - 1] != b' '
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any string: no panic, and accepted exactly when the rules say so.
    #[test]
    fn validation_matches_the_rules(s in any::<String>()) {
        let result = TargetModel::new(s.clone());
        prop_assert_eq!(result.is_ok(), valid_by_spec(&s));
        if let Ok(m) = result {
            prop_assert_eq!(m.as_str(), s.as_str());
            prop_assert_eq!(m.header_value().as_bytes(), s.as_bytes());
        }
    }

    /// Mostly-valid strings (printable ASCII, sometimes with spaces at the
    /// ends, sometimes long): the exact outcome, valid or which rule failed.
    #[test]
    fn printable_ascii_round_trips(s in "[ -~]{0,1100}") {
        let result = TargetModel::new(s.as_str());
        prop_assert_eq!(result.clone().err(), expected_error(&s));
        if let Ok(m) = result {
            prop_assert_eq!(m.as_str(), s.as_str());
            prop_assert_eq!(m.header_value().as_bytes(), s.as_bytes());
        }
    }
}

/// The first rule `s` breaks, checked in the documented order.
fn expected_error(s: &str) -> Option<InvalidTargetModel> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Some(InvalidTargetModel::Empty);
    }
    if b.len() > 1024 {
        return Some(InvalidTargetModel::TooLong { len: b.len() });
    }
    if let Some(index) = b.iter().position(|c| !(0x20..=0x7e).contains(c)) {
        return Some(InvalidTargetModel::NotPrintableAscii {
            index,
            byte: b[index],
        });
    }
    if b[0] == b' ' {
        return Some(InvalidTargetModel::LeadingSpace);
    }
    if b[b.len() - 1] == b' ' {
        return Some(InvalidTargetModel::TrailingSpace);
    }
    None
}
