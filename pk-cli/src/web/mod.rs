//! `pk serve` (design §12): a small page to watch the agents and answer them from a phone.
//!
//! One page, served by axum on a single-threaded tokio runtime: every track as the bar shows it,
//! live (server-sent events, sent when the watcher's `status.json` or a pane changes), the last
//! lines of each agent pane, and for a waiting track buttons that answer it (approve: Return;
//! deny: Escape; a reply: its text and Return), typed into that agent's pane only.
//!
//! Safety. It binds 127.0.0.1 unless `--bind` says otherwise. Every request needs the token
//! ([`token`]), in the query (`?token=`, the printed link) or the `X-PK-Token` header (the
//! page's own requests); a request whose `Origin` is not the page's is refused, so another
//! site open in the same browser can do nothing with it. There is no endpoint that runs a
//! command: the page reads status and sends keys to pk's own agent panes, found by track in
//! the session's live panes, nothing else. Everything shown is sanitized as the bar's text is,
//! and the page puts it in as text.

mod token;
mod view;

use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use crate::session::state::State;
use crate::session::workspace::Workspace;
use crate::sys::mux::{Key, Mux};
use axum::Router;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tokio_stream::StreamExt;

/// The page (HTML, CSS and script in one file; no external resources).
const PAGE: &str = include_str!("page.html");

/// What a browser without the token gets at `/`: a page that goes on with the token this
/// browser kept from the printed link, if it has one, and says what to open otherwise.
const LANDING: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><title>pk</title></head><body><p id="m">pk serve: open the link <code>pk serve</code> printed (with its token).</p><script>"use strict";const t=localStorage.getItem("pk-token");if(t&&/^[0-9a-f]{64}$/.test(t)){location.replace("/?token="+t);}</script></body></html>"#;

/// The pages' content security policy: nothing but their own inline script and style, and
/// requests to this server.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'";

/// The default port.
pub(crate) const DEFAULT_PORT: u16 = 7477;

/// How often the server looks at the watcher's status file.
const LOOK: Duration = Duration::from_millis(50);

/// How often the panes' last lines are read again without a change of status.
const TAILS: Duration = Duration::from_secs(1);

/// The longest reply the page may type.
const MAX_REPLY: usize = 500;

/// What `pk serve` was asked.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The address to listen on.
    pub(crate) bind: IpAddr,
    /// The port (0: any free one).
    pub(crate) port: u16,
    /// Make a new token (the old link stops working).
    pub(crate) rotate_token: bool,
}

/// What the handlers share.
struct App {
    ctx: Ctx,
    state_dir: PathBuf,
    session: String,
    /// The token, and the token file's time when it was read.
    token: Mutex<(Option<SystemTime>, String)>,
    /// The page's data as JSON, the latest.
    view: watch::Receiver<Arc<str>>,
}

impl App {
    /// The current token: the file's again when it changed (`--rotate-token` from another
    /// `pk serve`).
    fn token(&self) -> String {
        let path = token::path(&self.state_dir);
        let stamp = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let mut held = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if stamp != held.0
            && let Some(t) = token::read(&path)
        {
            *held = (stamp, t);
        }
        held.1.clone()
    }

    /// The session's state and multiplexer, as they are now.
    fn session_now(&self) -> Option<(State, Mux)> {
        let state = State::load(&self.state_dir).ok()??;
        let mux = Mux::of(
            &self.ctx,
            Some(state.mux_record()),
            crate::plan::Multiplexer::Tmux,
        );
        Some((state, mux))
    }
}

/// Runs `pk serve` until Ctrl-C.
pub(crate) fn serve(ctx: &Ctx, ws: &Workspace, opts: &Options) -> Result<()> {
    if ws.state()?.is_none() {
        return Err(Error::usage(format!(
            "session `{}` is not up: there is nothing to serve",
            ws.plan.session.name
        ))
        .hint("run `pk up` first"));
    }
    let token = token::load_or_make(&ws.state_dir, opts.rotate_token)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("failed to start the server's runtime")?;
    let app_view = view_json(ctx, &ws.state_dir, &ws.plan.session.name);
    let (tx, rx) = watch::channel(Arc::<str>::from(app_view));
    let app = Arc::new(App {
        ctx: ctx.clone(),
        state_dir: ws.state_dir.clone(),
        session: ws.plan.session.name.clone(),
        token: Mutex::new((None, token.clone())),
        view: rx,
    });
    runtime.block_on(run(app, tx, token, opts))
}

async fn run(
    app: Arc<App>,
    tx: watch::Sender<Arc<str>>,
    token: String,
    opts: &Options,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((opts.bind, opts.port))
        .await
        .map_err(|e| {
            Error::failure(format!("cannot listen on {}:{}", opts.bind, opts.port))
                .wrap_cause(e.to_string())
                .hint("another program has that port: choose one with `--port`")
        })?;
    let addr = listener
        .local_addr()
        .context("failed to read the address")?;
    let base = page_base(addr);
    announce(&base, &token, opts.bind)?;
    // For the notifications' link: where the page is, without its token.
    let served = app.state_dir.join(crate::live::notify::SERVED_FILE);
    let _ = crate::util::fs::write_atomically(
        &served,
        serde_json::json!({ "url": base }).to_string().as_bytes(),
    );
    tokio::spawn(refresh(Arc::clone(&app), tx));
    let router = Router::new()
        .route("/", get(page))
        .route("/api/view", get(current_view))
        .route("/api/events", get(events))
        .route("/api/answer", post(answer))
        .route("/api/diff", get(diff))
        .with_state(app);
    let served_result = axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    let _ = std::fs::remove_file(&served);
    served_result.context("the server stopped")
}

/// The page's address for `addr`: 127.0.0.1 for an unspecified one (the others of this
/// machine serve it too).
fn page_base(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    match ip {
        IpAddr::V6(v6) => format!("http://[{v6}]:{}/", addr.port()),
        IpAddr::V4(v4) => format!("http://{v4}:{}/", addr.port()),
    }
}

/// Prints the link with its token, as text and as a QR code, and how to reach it safely.
fn announce(base: &str, token: &str, bind: IpAddr) -> Result<()> {
    let url = format!("{base}?token={token}");
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| Error::failure("failed to make the QR code").wrap_cause(e.to_string()))?;
    let qr = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    crate::output::outln!("pk serve: {url}")?;
    crate::output::outln!("{qr}")?;
    if bind.is_loopback() {
        crate::output::outln!(
            "only this machine can open it; from a phone, use an ssh tunnel (ssh -L {port}:127.0.0.1:{port} this-machine) or `--bind` an address of a private network (Tailscale, WireGuard), never the internet",
            port = base
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .trim_end_matches('/')
        )?;
    } else {
        crate::output::outln!(
            "listening on {bind}: anyone who can reach it and has the link can answer your agents; keep it on a private network, never the internet (`pk serve --rotate-token` locks the link out)"
        )?;
    }
    crate::output::outln!("Ctrl-C stops it")?;
    Ok(())
}

/// Follows the watcher's status file and the panes; sends the page's data when it changed.
async fn refresh(app: Arc<App>, tx: watch::Sender<Arc<str>>) {
    let status = app.state_dir.join(pk_status::status_file::STATUS_FILE);
    let state = app.state_dir.join(crate::session::state::STATE_FILE);
    let stamp = |p: &PathBuf| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    let mut seen = (stamp(&status), stamp(&state));
    let mut tails_at = Instant::now();
    loop {
        tokio::time::sleep(LOOK).await;
        let now = (stamp(&status), stamp(&state));
        if now == seen && tails_at.elapsed() < TAILS {
            continue;
        }
        seen = now;
        tails_at = Instant::now();
        let app2 = Arc::clone(&app);
        let Ok(json) = tokio::task::spawn_blocking(move || {
            view_json(&app2.ctx, &app2.state_dir, &app2.session)
        })
        .await
        else {
            continue;
        };
        if **tx.borrow() != *json {
            let _ = tx.send(Arc::from(json));
        }
    }
}

/// The page's data as JSON.
fn view_json(ctx: &Ctx, state_dir: &std::path::Path, session: &str) -> String {
    let state = State::load(state_dir).ok().flatten();
    let file = crate::live::status_file::load(state_dir);
    let tracks: Vec<view::TrackIn> = match &state {
        Some(state) => {
            let mux = Mux::of(
                ctx,
                Some(state.mux_record()),
                crate::plan::Multiplexer::Tmux,
            );
            let panes = mux.session_panes(&state.session).unwrap_or_default();
            state
                .tracks
                .iter()
                .map(|r| view::TrackIn {
                    name: r.name.clone(),
                    host: r.host.clone(),
                    screen: panes
                        .iter()
                        .find(|p| p.track == r.name && p.role == "agent")
                        .and_then(|p| mux.pane_text(&state.session, p).ok()),
                })
                .collect()
        }
        None => Vec::new(),
    };
    let v = view::view(session, &tracks, file.as_ref());
    serde_json::to_string(&v).unwrap_or_else(|_| "{}".into())
}

/// Why a request is refused.
fn refuse(status: StatusCode, why: &str) -> Response {
    (status, format!("pk serve: {why}\n")).into_response()
}

/// Refuses a request from another origin or without the token.
fn authorize(
    app: &App,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> std::result::Result<(), Box<Response>> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if origin.to_str().ok() != Some(&format!("http://{host}")) {
            return Err(Box::new(refuse(
                StatusCode::FORBIDDEN,
                "requests from other origins are refused",
            )));
        }
    }
    let given = headers
        .get("x-pk-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
        .or(query_token)
        .unwrap_or_default();
    if token::matches(given, &app.token()) {
        Ok(())
    } else {
        Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "this needs the link `pk serve` printed (its token); after `--rotate-token`, the new one",
        )))
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn page(
    AxumState(app): AxumState<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Err(r) = authorize(&app, &headers, q.token.as_deref()) {
        if r.status() != StatusCode::UNAUTHORIZED {
            return *r;
        }
        // Still refused, with no data: a browser that opened the printed link before (the
        // notifications' link has no token) goes on with the token it kept.
        return (
            StatusCode::UNAUTHORIZED,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_SECURITY_POLICY, CSP),
            ],
            Html(LANDING),
        )
            .into_response();
    }
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(PAGE),
    )
        .into_response()
}

async fn current_view(
    AxumState(app): AxumState<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Err(r) = authorize(&app, &headers, q.token.as_deref()) {
        return *r;
    }
    let json = app.view.borrow().to_string();
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

async fn events(
    AxumState(app): AxumState<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Err(r) = authorize(&app, &headers, q.token.as_deref()) {
        return *r;
    }
    let stream = tokio_stream::wrappers::WatchStream::new(app.view.clone())
        .map(|json| Ok::<Event, Infallible>(Event::default().data(&*json)));
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// An answer from the page.
#[derive(Debug, Deserialize)]
struct Answer {
    /// The track whose agent is answered.
    track: String,
    /// `approve`, `deny` or `reply`.
    action: String,
    /// The reply's text.
    text: Option<String>,
}

/// The keys of an answer, or why there are none.
fn keys_of(a: &Answer) -> std::result::Result<Vec<Key>, &'static str> {
    match a.action.as_str() {
        "approve" => Ok(vec![Key::Enter]),
        "deny" => Ok(vec![Key::Escape]),
        "reply" => {
            // One line of text: no control character can drive the agent's terminal.
            let text: String = a
                .text
                .as_deref()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .collect();
            let text = text.trim();
            if text.is_empty() {
                Err("a reply needs text")
            } else if text.chars().count() > MAX_REPLY {
                Err("a reply is at most 500 characters")
            } else {
                Ok(vec![Key::Text(text.to_string()), Key::Enter])
            }
        }
        _ => Err("the action is approve, deny or reply"),
    }
}

async fn answer(
    AxumState(app): AxumState<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authorize(&app, &headers, None) {
        return *r;
    }
    let Ok(a) = serde_json::from_slice::<Answer>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "send {\"track\", \"action\", \"text\"} as JSON",
        );
    };
    let keys = match keys_of(&a) {
        Ok(keys) => keys,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why),
    };
    let sent = tokio::task::spawn_blocking(move || {
        let Some((state, mux)) = app.session_now() else {
            return Err((StatusCode::CONFLICT, "the session is not up".to_string()));
        };
        if state.track(&a.track).is_none() {
            return Err((StatusCode::NOT_FOUND, "no such track".to_string()));
        }
        // The agent's pane as the session has it now: never any other pane.
        let panes = mux.session_panes(&state.session).unwrap_or_default();
        let Some(pane) = panes
            .iter()
            .find(|p| p.track == a.track && p.role == "agent" && !p.dead)
        else {
            return Err((
                StatusCode::CONFLICT,
                format!("track {} has no running agent pane", a.track),
            ));
        };
        mux.send_keys(&state.session, pane, &keys)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await;
    match sent {
        Ok(Ok(())) => (StatusCode::OK, "sent\n").into_response(),
        Ok(Err((code, why))) => refuse(code, &why),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the answer was not sent"),
    }
}

#[derive(Debug, Deserialize)]
struct DiffQuery {
    track: String,
    token: Option<String>,
}

async fn diff(
    AxumState(app): AxumState<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<DiffQuery>,
) -> Response {
    if let Err(r) = authorize(&app, &headers, q.token.as_deref()) {
        return *r;
    }
    let said = tokio::task::spawn_blocking(move || {
        let (state, _) = app
            .session_now()
            .ok_or((StatusCode::CONFLICT, "the session is not up".to_string()))?;
        let rec = state
            .track(&q.track)
            .ok_or((StatusCode::NOT_FOUND, "no such track".to_string()))?;
        if let Some(host) = &rec.host {
            return Err((
                StatusCode::CONFLICT,
                format!("{} runs on host {host}", rec.name),
            ));
        }
        let git = crate::sys::git::Git::discover(&state.repo_root)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let changes = crate::session::review::Changes::of(&git, &rec.worktree, &rec.base)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let out = changes
            .command(
                crate::session::review::Show::Stat,
                &["--no-color".to_string()],
            )
            .output()
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        Ok(pk_status::sanitize::clean(&String::from_utf8_lossy(
            &out.stdout,
        )))
    })
    .await;
    match said {
        Ok(Ok(text)) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Ok(Err((code, why))) => refuse(code, &why),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "no diff"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(action: &str, text: Option<&str>) -> Answer {
        Answer {
            track: "api".into(),
            action: action.into(),
            text: text.map(String::from),
        }
    }

    #[test]
    fn answers_are_keys_and_replies_cannot_drive_the_terminal() {
        assert_eq!(keys_of(&answer("approve", None)), Ok(vec![Key::Enter]));
        assert_eq!(keys_of(&answer("deny", None)), Ok(vec![Key::Escape]));
        assert_eq!(
            keys_of(&answer("reply", Some("use \x1b[2Jport 8080\n; rm -rf /"))),
            Ok(vec![
                Key::Text("use [2Jport 8080; rm -rf /".into()),
                Key::Enter
            ])
        );
        assert!(keys_of(&answer("reply", Some("  \n"))).is_err());
        assert!(keys_of(&answer("reply", Some(&"x".repeat(501)))).is_err());
        assert!(keys_of(&answer("run", Some("ls"))).is_err());
    }

    #[test]
    fn the_link_names_a_loopback_address_for_an_unspecified_one() {
        assert_eq!(
            page_base("0.0.0.0:7477".parse().unwrap()),
            "http://127.0.0.1:7477/"
        );
        assert_eq!(page_base("[::1]:80".parse().unwrap()), "http://[::1]:80/");
    }
}
