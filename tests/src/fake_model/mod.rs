//! Fake model servers for the real agent CLIs: an HTTP server on 127.0.0.1 that records every
//! request and answers each with what a test's script says, as server-sent events or JSON. The
//! CLIs are pointed at it by their base-URL variables ([`crate::agents`]); nothing leaves the
//! machine.
//!
//! The server is the same for every API; [`anthropic`], [`openai`] and [`gemini`] build the
//! events of each API's stream (messages, tool calls, usage) for a script to return.

pub mod anthropic;
pub mod gemini;
pub mod openai;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// One request the server received, as the script sees it and the test can read it back.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, or `Null` when it is not JSON.
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Request {
    /// The value of header `name` (lower case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A gate a stream can wait at until the test opens it: to hold an agent in the middle of a
/// turn for as long as the test looks at it.
#[derive(Debug, Clone)]
pub struct Gate {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Gate {
    pub fn new() -> Gate {
        Gate {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Lets every stream waiting here go on, now and later.
    pub fn open(&self) {
        self.tx.send_replace(true);
    }

    async fn passed(&self) {
        let mut rx = self.tx.subscribe();
        // An error means the sender is gone, which cannot be while `self` holds it.
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// One server-sent event, sent after `delay` and after `gate` (if any) is open.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
    pub delay: Duration,
    pub gate: Option<Gate>,
}

impl Event {
    /// An event with a name (`event: NAME`) and JSON data.
    pub fn named(name: &str, data: serde_json::Value) -> Event {
        Event {
            name: Some(name.to_string()),
            data: data.to_string(),
            delay: Duration::ZERO,
            gate: None,
        }
    }

    /// An event of data only (`data: …`).
    pub fn data(data: serde_json::Value) -> Event {
        Event {
            name: None,
            data: data.to_string(),
            delay: Duration::ZERO,
            gate: None,
        }
    }

    /// Sent `delay` after the event before it.
    pub fn after(mut self, delay: Duration) -> Event {
        self.delay = delay;
        self
    }

    /// Sent only once `gate` is open.
    pub fn held_by(mut self, gate: &Gate) -> Event {
        self.gate = Some(gate.clone());
        self
    }
}

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `200 text/event-stream` with these events, then the end of the body.
    Sse(Vec<Event>),
    /// A JSON body with this status.
    Json(u16, serde_json::Value),
}

/// Decides the reply to each request. It gets the request and how many requests came before
/// it; a script that follows the conversation (a tool result in the request means the tool ran)
/// holds up better than one that counts, since the CLIs make requests of their own (titles,
/// token counts).
pub trait Script: Send + Sync + 'static {
    fn reply(&self, request: &Request, earlier: usize) -> Reply;
}

impl<F> Script for F
where
    F: Fn(&Request, usize) -> Reply + Send + Sync + 'static,
{
    fn reply(&self, request: &Request, earlier: usize) -> Reply {
        self(request, earlier)
    }
}

struct Shared {
    script: Box<dyn Script>,
    requests: Mutex<Vec<Request>>,
}

/// A running fake model server; it stops when dropped.
pub struct FakeModel {
    port: u16,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeModel {
    /// Starts a server on a free port of 127.0.0.1 that answers with `script`.
    pub fn start(script: impl Script) -> FakeModel {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime for the fake model");
        let shared = Arc::new(Shared {
            script: Box::new(script),
            requests: Mutex::new(Vec::new()),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0 for the fake model");
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        runtime.spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        FakeModel {
            port,
            shared,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`, with no slash at the end.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request so far, in the order received.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until `cond` holds for the requests so far; panics naming `what` after `timeout`.
    #[track_caller]
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        mut cond: impl FnMut(&[Request]) -> bool,
    ) {
        crate::wait_until(timeout, what, || {
            cond(&self.shared.requests.lock().unwrap())
        });
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn handle(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        raw: body.to_vec(),
        at: Instant::now(),
    };
    let earlier = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(request.clone());
        requests.len() - 1
    };
    match shared.script.reply(&request, earlier) {
        Reply::Json(status, body) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(body),
        )
            .into_response(),
        Reply::Sse(events) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<SseEvent, Infallible>>(16);
            tokio::spawn(async move {
                for event in events {
                    if !event.delay.is_zero() {
                        tokio::time::sleep(event.delay).await;
                    }
                    if let Some(gate) = &event.gate {
                        gate.passed().await;
                    }
                    let mut sse = SseEvent::default().data(event.data);
                    if let Some(name) = event.name {
                        sse = sse.event(name);
                    }
                    if tx.send(Ok(sse)).await.is_err() {
                        return; // the client went away
                    }
                }
            });
            Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx)).into_response()
        }
    }
}
