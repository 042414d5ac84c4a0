//! The emulator's log lines. In its own test binary: tracing caches callsite
//! interest process-wide, so a scoped subscriber must not race other tests.
#![cfg(feature = "emulator")]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use tower::ServiceExt;
use tower_sagemaker::emulator::Emulator;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_405_is_logged_as_an_error_with_its_code() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let req = http::Request::get("/endpoints/demo/invocations")
        .body(Full::<Bytes>::default())
        .unwrap();
    let res = Emulator::builder().build().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("status=405"))
        .unwrap_or_else(|| panic!("no 405 line: {logs}"));
    assert!(line.contains("answered an error"), "{line}");
    assert!(line.contains("code=UnknownOperationException"), "{line}");
}
