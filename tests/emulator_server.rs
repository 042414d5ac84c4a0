//! The emulator as a server others share, over real loopback TCP: idle and
//! slow connections are closed, uploads are bounded in time and memory,
//! the connection cap does not lock clients out, and shutdown is bounded.
//! Limits are set short, so no test waits long.
#![cfg(feature = "emulator")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower_sagemaker::emulator::{Emulator, EmulatorBuilder, Fault, FaultScope, ModelSpec, Server};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn builder() -> EmulatorBuilder {
    Emulator::builder().model("m", ModelSpec::new(Duration::ZERO))
}

async fn serve(builder: EmulatorBuilder) -> Server {
    builder
        .build()
        .serve(([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

/// Waits until the server closes `stream` (EOF or reset); how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

/// A valid invocation of model `m` with `body`, as raw HTTP/1.1.
fn raw_request(body_len: usize) -> String {
    format!(
        "POST /endpoints/demo/invocations HTTP/1.1\r\nhost: x\r\ncontent-type: text/csv\r\nx-amzn-sagemaker-target-model: m\r\ncontent-length: {body_len}\r\n\r\n"
    )
}

async fn call(server: &Server, body: Bytes) -> (u16, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::post(format!(
        "{}/endpoints/demo/invocations",
        server.endpoint_url()
    ))
    .header("content-type", "text/csv")
    .header("x-amzn-sagemaker-target-model", "m")
    .body(Full::new(body))
    .unwrap();
    let res = client.request(req).await.unwrap();
    let status = res.status().as_u16();
    (status, res.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let server = serve(builder().idle_timeout(ms(200))).await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(server.local_addr()).await.unwrap());
    }
    let start = Instant::now();
    for stream in &mut idle {
        closed_within(stream, ms(2000)).await;
    }
    let took = start.elapsed();
    assert!(took >= ms(150) && took < ms(1000), "{took:?}");

    // A connection kept alive after a request is closed the same way.
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(raw_request(1).as_bytes()).await.unwrap();
    stream.write_all(b"1").await.unwrap();
    let mut head = vec![0u8; 1024];
    let n = stream.read(&mut head).await.unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
    let took = closed_within(&mut stream, ms(2000)).await;
    assert!(took >= ms(150), "{took:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_slow_to_send_its_head_is_cut_off() {
    let server = serve(
        builder()
            .header_read_timeout(ms(200))
            .idle_timeout(ms(5000)),
    )
    .await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let start = Instant::now();
    // One byte every 20 ms: never idle, never done.
    let head = raw_request(1);
    let mut cut = false;
    for byte in head.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(ms(20), stream.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut = true;
                break;
            }
            Ok(Ok(_)) => panic!("an answer to half a head"),
        }
    }
    let took = start.elapsed();
    assert!(cut, "the head was sent in full without being cut off");
    assert!(took >= ms(180) && took < ms(1000), "{took:?}");
    server.shutdown().await;
}

/// A CSV body of `len` bytes: `1,1,1,...`.
fn csv(len: usize) -> Bytes {
    let mut body = vec![b'1'; len];
    for i in (1..len).step_by(2) {
        body[i] = b',';
    }
    Bytes::from(body)
}

/// The start of an answer, for assertion messages.
fn head_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
}

/// A body of 5 MiB and one byte: valid CSV, and most of an 8 MiB budget.
const BIG: usize = 5 * 1024 * 1024 + 1;

#[tokio::test]
async fn a_stalled_upload_ends_with_408_and_its_memory_is_freed() {
    let server = serve(
        builder()
            .request_body_timeout(ms(300))
            .request_body_memory(8 * 1024 * 1024),
    )
    .await;
    // 5 MiB of a 6,000,000-byte body, then silence.
    let mut stalled = TcpStream::connect(server.local_addr()).await.unwrap();
    let start = Instant::now();
    stalled
        .write_all(raw_request(6_000_000).as_bytes())
        .await
        .unwrap();
    stalled.write_all(&csv(BIG)).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(ms(2000), stalled.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 408"),
        "{}",
        head_of(&buf[..n])
    );
    let took = start.elapsed();
    assert!(took >= ms(280) && took < ms(1500), "{took:?}");
    // Its memory is free again: another 5 MiB fits in the 8 MiB (were the
    // stalled body still held, this would wait and get 503).
    let (status, answer) = call(&server, csv(BIG)).await;
    assert_eq!(status, 200, "{}", head_of(&answer));
    server.shutdown().await;
}

#[tokio::test]
async fn request_bodies_in_progress_share_one_memory_budget() {
    let server = serve(
        builder()
            .model("slow", ModelSpec::new(Duration::ZERO).latency(ms(800)))
            .request_body_timeout(ms(300))
            .request_body_memory(8 * 1024 * 1024),
    )
    .await;
    // A holds 5 MiB for the 800 ms its model takes.
    let url = server.endpoint_url();
    let a = tokio::spawn(async move {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let req = http::Request::post(format!("{url}/endpoints/demo/invocations"))
            .header("x-amzn-sagemaker-target-model", "slow")
            .body(Full::new(csv(BIG)))
            .unwrap();
        client.request(req).await.unwrap().status().as_u16()
    });
    tokio::time::sleep(ms(150)).await;
    // B's 5 MiB do not fit beside A's: B is turned away at its body timeout.
    let start = Instant::now();
    let (status, answer) = call(&server, csv(BIG)).await;
    assert_eq!(status, 503, "{}", head_of(&answer));
    assert!(start.elapsed() < ms(700), "{:?}", start.elapsed());
    assert_eq!(a.await.unwrap(), 200);
    // With A done, the memory is free for the next.
    let (status, answer) = call(&server, csv(BIG)).await;
    assert_eq!(status, 200, "{}", head_of(&answer));
    server.shutdown().await;
}

#[tokio::test]
async fn at_the_connection_cap_a_new_client_still_gets_answers() {
    let server = serve(builder().max_connections(20).idle_timeout(ms(60_000))).await;
    // Sockets that connect and say nothing, more than the cap.
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(server.local_addr()).await.unwrap());
    }
    tokio::time::sleep(ms(100)).await;
    let start = Instant::now();
    let (status, body) = tokio::time::timeout(ms(3000), call(&server, Bytes::from("1,2")))
        .await
        .expect("answered despite the idle sockets");
    assert_eq!((status, &body[..]), (200, &b"3.0"[..]));
    assert!(start.elapsed() < ms(2000), "{:?}", start.elapsed());
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_bounded_when_a_client_stalls() {
    let emulator = builder().shutdown_timeout(ms(200)).build();
    emulator.inject(Fault::Stall, FaultScope::Any, 1);
    let server = emulator.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    let url = server.endpoint_url();
    let stuck = tokio::spawn(async move {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let req = http::Request::post(format!("{url}/endpoints/demo/invocations"))
            .header("x-amzn-sagemaker-target-model", "m")
            .body(Full::new(Bytes::from("1")))
            .unwrap();
        client.request(req).await
    });
    // A slow upload too, and an idle socket.
    let mut slow = TcpStream::connect(server.local_addr()).await.unwrap();
    slow.write_all(raw_request(100).as_bytes()).await.unwrap();
    let _idle = TcpStream::connect(server.local_addr()).await.unwrap();
    tokio::time::sleep(ms(100)).await;

    let start = Instant::now();
    tokio::time::timeout(ms(3000), server.shutdown())
        .await
        .expect("shutdown ended");
    let took = start.elapsed();
    assert!(took < ms(1000), "{took:?}");
    // The stalled call ends with an error, not a hang.
    let res = tokio::time::timeout(ms(2000), stuck)
        .await
        .expect("the stalled call ended");
    assert!(res.unwrap().is_err());
}

/// A call of model `model` with a small body, through `client`; its status
/// (0 for a transport error).
async fn small_call(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    url: &str,
    model: &str,
) -> u16 {
    let req = http::Request::post(format!("{url}/endpoints/demo/invocations"))
        .header("content-type", "text/csv")
        .header("x-amzn-sagemaker-target-model", model)
        .body(Full::new(Bytes::from("1,2")))
        .unwrap();
    match client.request(req).await {
        Ok(res) => {
            let status = res.status().as_u16();
            match res.into_body().collect().await {
                Ok(_) => status,
                Err(_) => 0,
            }
        }
        Err(e) => {
            eprintln!("call failed: {e:?}");
            0
        }
    }
}

// Paused clock: the 3 s load and the 60 s idle timeout take no real time;
// the clock says when each caller was answered.
#[tokio::test(start_paused = true)]
async fn past_the_connection_cap_a_caller_waits_for_an_idle_connection_not_the_idle_timeout() {
    let server = serve(
        builder()
            .model("cold", ModelSpec::new(Duration::from_secs(3)))
            .max_connections(40),
    )
    .await;
    let url = server.endpoint_url();
    // One pool, as one stack: a connection per caller in flight.
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let start = tokio::time::Instant::now();
    let callers: Vec<_> = (0..300)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let status = small_call(&client, &url, "cold").await;
                (status, start.elapsed())
            })
        })
        .collect();
    let (mut failed, mut late, mut latest) = (0, 0, Duration::ZERO);
    for caller in callers {
        let (status, took) = caller.await.unwrap();
        failed += usize::from(status != 200);
        late += usize::from(took >= Duration::from_secs(10));
        latest = latest.max(took);
    }
    // The load takes 3 s; the idle timeout (60 s) must not show.
    assert_eq!(
        (failed, late),
        (0, 0),
        "callers failed, and answered after 10 s (the last after {latest:?})"
    );
    server.shutdown().await;
}

/// Sends the head of a chunked upload of model `m` and `len` bytes of its
/// body in 64 KiB chunks, then nothing more; the socket stays open.
async fn stalled_upload(addr: std::net::SocketAddr, len: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /endpoints/demo/invocations HTTP/1.1\r\nhost: x\r\ncontent-type: text/csv\r\nx-amzn-sagemaker-target-model: m\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = csv(64 * 1024);
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        let mut frame = format!("{n:x}\r\n").into_bytes();
        frame.extend_from_slice(&chunk[..n]);
        frame.extend_from_slice(b"\r\n");
        // The server stops reading when it has no memory for more: so does the client.
        if tokio::time::timeout(ms(500), stream.write_all(&frame))
            .await
            .is_err()
        {
            break;
        }
        sent += n;
    }
    stream
}

#[tokio::test(start_paused = true)]
async fn stalled_uploads_do_not_starve_small_calls() {
    // As 50 uploads of 6 MiB less 64 KiB in the default 64 MiB, scaled down.
    let server = serve(builder().request_body_memory(16 * 1024 * 1024)).await;
    let addr = server.local_addr();
    let mut uploads = Vec::new();
    for _ in 0..12 {
        uploads.push(tokio::spawn(stalled_upload(
            addr,
            2 * 1024 * 1024 - 64 * 1024,
        )));
    }
    let mut stalled = Vec::new();
    for upload in uploads {
        stalled.push(upload.await.unwrap());
    }
    // A prober: a small call every 200 ms, each given 3 s.
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = server.endpoint_url();
    let mut answered = 0;
    for _ in 0..20 {
        let call = small_call(&client, &url, "m");
        if let Ok(200) = tokio::time::timeout(Duration::from_secs(3), call).await {
            answered += 1;
        }
        tokio::time::sleep(ms(200)).await;
    }
    assert_eq!(answered, 20, "small calls answered while uploads stall");
    drop(stalled);
    server.shutdown().await;
}

/// Reads until the head of an answer has come; its first bytes.
async fn answer_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(ms(3000), stream.read(&mut buf))
            .await
            .expect("an answer")
            .expect("no reset before the answer");
        assert!(n > 0, "closed before the answer");
        head.extend_from_slice(&buf[..n]);
    }
    head_of(&head)
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_read_to_its_end_and_answered_413() {
    let server = serve(builder()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = "POST /endpoints/demo/invocations HTTP/1.1\r\nhost: x\r\nx-amzn-sagemaker-target-model: m\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    // 7 MiB in 64 KiB chunks, all of it written: the server keeps reading.
    let chunk = csv(64 * 1024);
    for _ in 0..7 * 16 {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(&chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let head = answer_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_waiting_for_100_continue_gets_413_without_sending_its_body() {
    let server = serve(builder()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = format!(
        "POST /endpoints/demo/invocations HTTP/1.1\r\nhost: x\r\nx-amzn-sagemaker-target-model: m\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n",
        7 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let head = answer_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(start.elapsed() < ms(1000), "{:?}", start.elapsed());
    server.shutdown().await;
}

/// At the cap, a connection that never sent a request is closed to make
/// room, at once: a client's spare connection (opened, then not used) does
/// not hold the slot for a caller waiting behind it.
#[tokio::test]
async fn at_the_cap_a_connection_that_never_sent_a_request_makes_room() {
    let server = serve(builder().max_connections(1).idle_timeout(ms(60_000))).await;
    let mut spare = TcpStream::connect(server.local_addr()).await.unwrap();
    // Accepted first: the spare holds the one slot.
    tokio::time::sleep(ms(50)).await;
    let start = Instant::now();
    let mut caller = TcpStream::connect(server.local_addr()).await.unwrap();
    caller.write_all(raw_request(1).as_bytes()).await.unwrap();
    caller.write_all(b"1").await.unwrap();
    let mut head = vec![0u8; 1024];
    let n = tokio::time::timeout(ms(3000), caller.read(&mut head))
        .await
        .expect("the caller is answered")
        .unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
    assert!(start.elapsed() < ms(1000), "{:?}", start.elapsed());
    closed_within(&mut spare, ms(1000)).await;
    server.shutdown().await;
}
