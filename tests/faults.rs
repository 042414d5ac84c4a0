//! The layers against misbehaving servers over real loopback TCP: raw tokio
//! sockets that stall, reset or close where a well-behaved server would not,
//! and a real `hyper_util` client. Each case checks the outcome, the number of
//! attempts, and that the caller is done within its budget plus a small
//! tolerance. Budgets are short (under a second), so no test sleeps long.
#![cfg(all(
    feature = "retry",
    feature = "deadline",
    feature = "read-timeout",
    feature = "collect-body",
))]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_sagemaker::collect_body::BodyReadFailed;
use tower_sagemaker::deadline::DeadlineExceeded;
use tower_sagemaker::read_timeout::ReadTimedOut;
use tower_sagemaker::retry::{Attempts, ColdStarts, LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::sagemaker::MAX_PAYLOAD_BYTES;
use tower_sagemaker::ServiceBuilderExt;

/// Time a caller may take past its budget: the scheduling of a loaded CI machine.
const TOLERANCE: Duration = Duration::from_millis(250);

/// What the server does with one request.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// Read the request, then never answer.
    StallHead,
    /// Answer `status` with `Content-Length: declared`, send `sent` bytes of
    /// the body, then `then`.
    Answer {
        status: u16,
        declared: usize,
        sent: usize,
        then: After,
    },
    /// Answer 200 `8.0` in full, then close the connection without saying so
    /// (no `Connection: close`): the client's pooled connection goes stale.
    AnswerThenClose,
    /// The same, closing the connection after this many milliseconds, as an
    /// idle timeout does.
    AnswerThenCloseAfter(u64),
    /// Hold the request this many milliseconds, then answer 429
    /// `ModelNotReadyException`, as an endpoint loading the model does.
    NotReadyAfter(u64),
}

#[derive(Debug, Clone, Copy)]
enum After {
    /// Send nothing more and keep the connection open.
    Stall,
    /// Reset the connection (RST).
    Reset,
}

/// A server that plays `acts` in order, one per request, then answers 200 `8.0`.
struct RawServer {
    url: String,
    requests: Arc<AtomicUsize>,
    body_bytes_written: Arc<AtomicU64>,
}

impl RawServer {
    async fn start(acts: impl IntoIterator<Item = Act>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let acts = Arc::new(Mutex::new(acts.into_iter().collect::<VecDeque<_>>()));
        let requests = Arc::new(AtomicUsize::new(0));
        let body_bytes_written = Arc::new(AtomicU64::new(0));
        let (r, w) = (requests.clone(), body_bytes_written.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(stream, acts.clone(), r.clone(), w.clone()));
            }
        });
        Self {
            url,
            requests,
            body_bytes_written,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn uri(&self) -> String {
        format!("{}/endpoints/demo/invocations", self.url)
    }
}

async fn serve(
    mut stream: TcpStream,
    acts: Arc<Mutex<VecDeque<Act>>>,
    requests: Arc<AtomicUsize>,
    written: Arc<AtomicU64>,
) {
    let mut buf = Vec::new();
    loop {
        if !read_request(&mut stream, &mut buf).await {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let act = acts.lock().unwrap().pop_front();
        match act {
            None => {
                if write_ok(&mut stream).await.is_err() {
                    return;
                }
            }
            Some(Act::AnswerThenClose) => {
                let _ = write_ok(&mut stream).await;
                return;
            }
            Some(Act::AnswerThenCloseAfter(ms)) => {
                let _ = write_ok(&mut stream).await;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                return;
            }
            Some(Act::NotReadyAfter(ms)) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let answer = "HTTP/1.1 429 Too Many Requests\r\nx-amzn-errortype: ModelNotReadyException:http://internal.amazon.com/coral/com.amazon.sagemaker/\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
            Some(Act::StallHead) => {
                std::future::pending::<()>().await;
            }
            Some(Act::Answer {
                status,
                declared,
                sent,
                then,
            }) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\nx-amzn-errortype: Fault\r\ncontent-length: {declared}\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = sent;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    written.fetch_add(n as u64, Ordering::SeqCst);
                    left -= n;
                }
                match then {
                    After::Stall => std::future::pending::<()>().await,
                    After::Reset => {
                        // Linger zero: close with a RST at once. (Deprecated because
                        // a non-zero linger blocks the thread on drop; zero does not.)
                        #[allow(deprecated)]
                        let _ = stream.set_linger(Some(Duration::ZERO));
                        return;
                    }
                }
            }
        }
    }
}

/// Reads one request (head and `Content-Length` body); false when the
/// connection ends first.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf.drain(..head_end + len);
    true
}

async fn write_ok(stream: &mut TcpStream) -> std::io::Result<()> {
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: 3\r\n\r\n8.0")
        .await
}

fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn request(server: &RawServer) -> http::Request<Full<Bytes>> {
    http::Request::post(server.uri())
        .header("content-type", "text/csv")
        .body(Full::new(Bytes::from_static(b"1.0,2.0,5.0")))
        .unwrap()
}

/// Fast legacy retries: base delay 10 ms, no per-attempt timeout (the read
/// timeout and the deadline bound the waits).
fn retries(max_retries: u32) -> ModelNotReadyRetryLayer {
    layer(legacy(max_retries))
}

/// The legacy retries with 10 ms backoff.
fn legacy(max_retries: u32) -> LegacyRetries {
    LegacyRetries::new()
        .max_retries(max_retries)
        .base_delay(Duration::from_millis(10))
}

/// A retry layer with `retries` and no attempt timeout.
fn layer(retries: LegacyRetries) -> ModelNotReadyRetryLayer {
    ModelNotReadyRetryLayer::new(retries).no_attempt_timeout()
}

type Req = http::Request<Full<Bytes>>;

/// The recommended shape with a short budget: a deadline, two fast retries,
/// and a read timeout; the body reaches the caller as a stream.
fn streaming(
    budget: Duration,
    read: Duration,
) -> impl Service<
    Req,
    Response = http::Response<
        impl http_body::Body<Data = Bytes, Error = BoxError> + std::fmt::Debug,
    >,
    Error = BoxError,
> + Clone {
    ServiceBuilder::new()
        .deadline(budget)
        .model_not_ready_retry(retries(2))
        .read_timeout(read)
        .service(client())
}

/// `streaming`, with the body read inside each attempt.
fn collecting(
    budget: Duration,
    read: Duration,
) -> impl Service<
    Req,
    Response = http::Response<
        impl http_body::Body<Data = Bytes, Error = BoxError> + std::fmt::Debug,
    >,
    Error = BoxError,
> + Clone {
    ServiceBuilder::new()
        .deadline(budget)
        .model_not_ready_retry(retries(2))
        .collect_body(MAX_PAYLOAD_BYTES)
        .read_timeout(read)
        .service(client())
}

fn attempts<B>(res: &http::Response<B>) -> u32 {
    res.extensions()
        .get::<Attempts>()
        .map_or(0, Attempts::count)
}

/// Runs `call` and checks it is done within `budget` plus the tolerance
/// (a call that would take longer fails the test rather than hang it).
async fn within<T>(budget: Duration, call: impl std::future::Future<Output = T>) -> T {
    let start = Instant::now();
    let out = tokio::time::timeout(budget + TOLERANCE, call)
        .await
        .unwrap_or_else(|_| panic!("still running after its budget {budget:?} + {TOLERANCE:?}"));
    let took = start.elapsed();
    assert!(
        took <= budget + TOLERANCE,
        "took {took:?}, budget {budget:?}"
    );
    out
}

/// Reads a whole body.
async fn read_all<B>(body: B) -> Result<Bytes, BoxError>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    Ok(body.collect().await.map_err(Into::into)?.to_bytes())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn head_stalls_are_read_timeouts_retried_until_the_attempts_run_out() {
    let server = RawServer::start([Act::StallHead; 8]).await;
    let svc = streaming(ms(2000), ms(150));
    let err = within(ms(2000), svc.oneshot(request(&server)))
        .await
        .unwrap_err();
    let timed_out = err.downcast_ref::<ReadTimedOut>().expect("a read timeout");
    assert!(timed_out.is_head());
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_head_stall_longer_than_the_budget_ends_at_the_deadline() {
    let server = RawServer::start([Act::StallHead; 8]).await;
    let svc = ServiceBuilder::new()
        .deadline(ms(400))
        .model_not_ready_retry(retries(4))
        .read_timeout(ms(300))
        .service(client());
    let start = Instant::now();
    let err = within(ms(400), svc.oneshot(request(&server)))
        .await
        .unwrap_err();
    assert!(err.is::<DeadlineExceeded>(), "{err}");
    assert!(start.elapsed() >= ms(400));
    assert_eq!(
        server.requests(),
        2,
        "one timed out at 300 ms, the next cut by the deadline"
    );
}

const STALLED_BODY: Act = Act::Answer {
    status: 200,
    declared: 100,
    sent: 10,
    then: After::Stall,
};

#[tokio::test]
async fn a_body_that_stalls_after_the_head_fails_at_the_deadline() {
    // The report that opened this work: head and 10 of 100 bytes, then
    // silence, with only a deadline in the stack.
    let server = RawServer::start([STALLED_BODY]).await;
    let svc = ServiceBuilder::new()
        .deadline(ms(400))
        .model_not_ready_retry(retries(2))
        .service(client());
    let err = within(ms(400), async {
        let res = svc.oneshot(request(&server)).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(attempts(&res), 1);
        read_all(res.into_body()).await.unwrap_err()
    })
    .await;
    assert!(err.is::<DeadlineExceeded>(), "{err}");
}

#[tokio::test]
async fn a_body_that_stalls_fails_the_read_at_the_read_timeout() {
    let server = RawServer::start([STALLED_BODY]).await;
    let svc = streaming(ms(2000), ms(150));
    let start = Instant::now();
    let err = within(ms(2000), async {
        let res = svc.oneshot(request(&server)).await.unwrap();
        read_all(res.into_body()).await.unwrap_err()
    })
    .await;
    let timed_out = err.downcast_ref::<ReadTimedOut>().expect("a read timeout");
    assert!(timed_out.is_body());
    assert!(start.elapsed() < ms(1000), "{:?}", start.elapsed());
    assert_eq!(
        server.requests(),
        1,
        "a 200 whose body breaks is not retried"
    );
}

#[tokio::test]
async fn with_the_body_read_inside_the_attempt_a_stalled_body_is_retried() {
    let server = RawServer::start([STALLED_BODY]).await;
    let svc = collecting(ms(2000), ms(150));
    let (res, body) = within(ms(2000), async {
        let res = svc.oneshot(request(&server)).await.unwrap();
        let (parts, body) = res.into_parts();
        (parts, read_all(body).await.unwrap())
    })
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(body, "8.0");
    assert_eq!(res.extensions.get::<Attempts>().unwrap().count(), 2);
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn stalled_bodies_on_every_attempt_end_with_the_body_error() {
    let server = RawServer::start([STALLED_BODY; 8]).await;
    let svc = collecting(ms(2000), ms(100));
    let err = within(ms(2000), svc.oneshot(request(&server)))
        .await
        .unwrap_err();
    let failed = err
        .downcast_ref::<BodyReadFailed>()
        .expect("a body read failure");
    let cause = std::error::Error::source(failed).unwrap();
    assert!(cause.downcast_ref::<ReadTimedOut>().unwrap().is_body());
    assert_eq!(server.requests(), 3);
}

const RESET_200: Act = Act::Answer {
    status: 200,
    declared: 100,
    sent: 10,
    then: After::Reset,
};

#[tokio::test]
async fn a_reset_mid_body_on_200_is_retried_when_the_body_is_read_inside_the_attempt() {
    let server = RawServer::start([RESET_200]).await;
    let svc = collecting(ms(2000), ms(500));
    let res = within(ms(2000), svc.oneshot(request(&server)))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(attempts(&res), 2);
    assert_eq!(read_all(res.into_body()).await.unwrap(), "8.0");
}

#[tokio::test]
async fn a_reset_mid_body_on_200_reaches_a_caller_who_streams_the_body() {
    let server = RawServer::start([RESET_200]).await;
    let svc = streaming(ms(2000), ms(500));
    let err = within(ms(2000), async {
        let res = svc.oneshot(request(&server)).await.unwrap();
        assert_eq!(attempts(&res), 1);
        read_all(res.into_body()).await.unwrap_err()
    })
    .await;
    assert!(
        !err.is::<DeadlineExceeded>() && !err.is::<ReadTimedOut>(),
        "{err}"
    );
    assert_eq!(server.requests(), 1);
}

/// Calls `svc` once and reads the body: (status, attempts, body).
async fn call_and_read<S, B>(svc: S, server: &RawServer, budget: Duration) -> (u16, u32, Bytes)
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>, Error = BoxError>,
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    within(budget, async {
        let res = svc.oneshot(request(server)).await.unwrap();
        let n = attempts(&res);
        (
            res.status().as_u16(),
            n,
            read_all(res.into_body()).await.unwrap(),
        )
    })
    .await
}

#[tokio::test]
async fn a_reset_mid_body_on_503_is_retried_by_status_its_body_unread() {
    let reset_503 = Act::Answer {
        status: 503,
        declared: 100,
        sent: 10,
        then: After::Reset,
    };
    let server = RawServer::start([reset_503]).await;
    let streaming = streaming(ms(2000), ms(500));
    let (status, n, body) = call_and_read(streaming, &server, ms(2000)).await;
    assert_eq!((status, n, &body[..]), (200, 2, &b"8.0"[..]));

    let server = RawServer::start([reset_503]).await;
    let collecting = collecting(ms(2000), ms(500));
    let (status, n, body) = call_and_read(collecting, &server, ms(2000)).await;
    assert_eq!((status, n, &body[..]), (200, 2, &b"8.0"[..]));
}

#[tokio::test]
async fn a_keep_alive_connection_closed_between_calls_is_survived() {
    let server = RawServer::start([Act::AnswerThenClose]).await;
    let mut svc = collecting(ms(2000), ms(500));
    for call in 0..2 {
        let res = within(ms(2000), async {
            svc.ready()
                .await
                .unwrap()
                .call(request(&server))
                .await
                .unwrap()
        })
        .await;
        assert_eq!(res.status(), 200, "call {call}");
        // The pool may have seen the close (a new connection, 1 attempt) or
        // not (the stale one fails unsent, and the retry succeeds).
        assert!(
            (1..=2).contains(&attempts(&res)),
            "call {call}: {}",
            attempts(&res)
        );
        assert_eq!(read_all(res.into_body()).await.unwrap(), "8.0");
    }
}

const DECLARED: usize = 50 * 1024 * 1024;
const BIG_429: Act = Act::Answer {
    status: 429,
    declared: DECLARED,
    sent: DECLARED,
    then: After::Stall,
};

/// Three attempts, three 429s of 50 MiB: the caller gets the last 429, its
/// body unread, and the server could push only what socket buffers take.
async fn check_big_429s<S, B>(svc: S, server: &RawServer)
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>, Error = BoxError>,
{
    let res = within(ms(3000), svc.oneshot(request(server)))
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), attempts(&res)), (429, 3));
    drop(res);
    let written = server.body_bytes_written.load(Ordering::SeqCst);
    assert!(written < 3 * 16 * 1024 * 1024, "{written} bytes written");
}

#[tokio::test]
async fn large_429_bodies_on_every_attempt_are_dropped_unread() {
    let server = RawServer::start([BIG_429; 3]).await;
    let streaming = streaming(ms(3000), ms(500));
    check_big_429s(streaming, &server).await;

    let server = RawServer::start([BIG_429; 3]).await;
    let collecting = collecting(ms(3000), ms(500));
    check_big_429s(collecting, &server).await;
}

#[tokio::test]
async fn a_connection_closed_just_before_reuse_is_retried_at_once_when_asked() {
    // The server closes each connection 20 ms after answering; calls come
    // every 18 to 22 ms, so some reuse a connection the server is closing.
    let server = RawServer::start([Act::AnswerThenCloseAfter(20); 200]).await;
    let mut svc = ServiceBuilder::new()
        .deadline(ms(2000))
        .model_not_ready_retry(layer(
            legacy(2)
                .base_delay(ms(1000))
                .reset_connection_at_once(true),
        ))
        .collect_body(MAX_PAYLOAD_BYTES)
        .read_timeout(ms(500))
        .service(client());
    let mut raced = Vec::new();
    for i in 0..100u64 {
        let start = Instant::now();
        let res = within(ms(2000), async {
            svc.ready()
                .await
                .unwrap()
                .call(request(&server))
                .await
                .unwrap()
        })
        .await;
        assert_eq!(res.status(), 200);
        if attempts(&res) == 2 {
            raced.push(start.elapsed());
            if raced.len() == 3 {
                break;
            }
        }
        tokio::time::sleep(ms(18 + i % 5)).await;
    }
    assert_eq!(raced.len(), 3, "the race never happened in 100 calls");
    // With a 1 s base delay, a backoff would show; the retry went out at once.
    assert!(raced.iter().all(|d| *d < ms(200)), "{raced:?}");
}

#[tokio::test]
async fn coalesced_callers_wait_out_a_loading_model_and_a_probe_cut_mid_body() {
    // The first request is held and gets 429 `ModelNotReadyException`; the
    // probe gets a 200 whose body is cut by a reset (the model is ready, the
    // connection failed): the waiters then send, each its own request.
    let n = 10;
    let server = RawServer::start([Act::NotReadyAfter(100), RESET_200]).await;
    let svc = ServiceBuilder::new()
        .deadline(ms(2000))
        .model_not_ready_retry(layer(legacy(4).coalesce_cold_starts(ColdStarts::new())))
        .collect_body(MAX_PAYLOAD_BYTES)
        .read_timeout(ms(500))
        .service(client());
    let calls = (0..n).map(|_| {
        let mut req = request(&server);
        req.headers_mut().insert(
            "x-amzn-sagemaker-target-model",
            http::HeaderValue::from_static("m"),
        );
        let svc = svc.clone();
        async move {
            let res = svc.oneshot(req).await.unwrap();
            (
                res.status().as_u16(),
                read_all(res.into_body()).await.unwrap(),
            )
        }
    });
    let ends = within(ms(2000), futures_util::future::join_all(calls)).await;
    assert!(
        ends.iter().all(|(s, b)| *s == 200 && b == "8.0"),
        "{ends:?}"
    );
    // The held request, the cut probe, its retry and one per waiter.
    assert_eq!(server.requests(), 1 + 1 + 1 + (n - 1));
}
