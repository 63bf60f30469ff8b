//! The web view (issue 15): how long after the tmux bar a state change reaches an open page,
//! and how much memory `pk serve` holds with 16 tracks.
//!
//! Run with `cargo bench -p pk-tests --bench serve`. Env: `PK_BENCH_WRITES` (state changes,
//! default 40; `PK_BENCH_QUICK=1`: 12), `PK_BENCH_TRACKS` (default 16).
//!
//! Method. A hermetic world (private tmux socket, throwaway HOME) whose plan has
//! `PK_BENCH_TRACKS` tracks running `sleep`; `pk up --detach`, then `pk serve --port 0`. The
//! page's event stream (`/api/events`, server-sent events) is read by a thread that stamps each
//! event as it arrives, as a browser's EventSource would get it. Then, in turns over the
//! tracks, a hook event that changes a track's state (`UserPromptSubmit`: working; `Stop`:
//! done) is appended to its event file; the session's `status-right` is polled every 5 ms
//! until it shows the change (the time the bar had it), and the stream is watched until an
//! event shows it (the time the page had it). Changes are 100-200 ms apart. The figure is
//! page minus bar, median and 95th percentile (target: p95 at most 250 ms). Then `VmRSS` and
//! `VmHWM` of `pk serve` from `/proc` (target: under 30 MB).

use pk_tests::TestEnv;
use pk_tests::bench::{env_or, median, percentile};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let quick = std::env::var_os("PK_BENCH_QUICK").is_some();
    let writes = env_or("PK_BENCH_WRITES", if quick { 12 } else { 40 });
    let tracks = env_or("PK_BENCH_TRACKS", 16);
    let env = TestEnv::with_tmux().expect("tmux is installed");
    let names: Vec<String> = (0..tracks).map(|i| format!("t{i:02}")).collect();
    let mut plan =
        "[session]\nname = \"shop\"\n\n[ports]\nbase = 5000\nper_track = 2\n".to_string();
    for n in &names {
        plan.push_str(&format!(
            "\n[[track]]\nname = \"{n}\"\ncommand = [\"sleep\", \"600\"]\n"
        ));
    }
    env.up_detached(&plan);

    let mut serve = env
        .pk_cmd(&["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    std::thread::spawn(move || for _ in lines {});
    let url = url.strip_prefix("pk serve: http://").unwrap().to_string();
    let (addr, token) = url.split_once("/?token=").unwrap();

    // The page's stream, each event stamped on arrival.
    let seen: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    {
        let seen = Arc::clone(&seen);
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /api/events?token={token} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if let Some(data) = line.strip_prefix("data: ") {
                    seen.lock()
                        .unwrap()
                        .push((Instant::now(), data.to_string()));
                }
            }
        });
    }
    wait(Duration::from_secs(20), "the first event", || {
        !seen.lock().unwrap().is_empty()
    });

    let mut deltas = Vec::new();
    for i in 0..writes {
        let track = &names[i % names.len()];
        let round = i / names.len();
        let (event, state) = if round.is_multiple_of(2) {
            ("UserPromptSubmit", "working")
        } else {
            ("Stop", "done")
        };
        let events = env
            .repo
            .join(".git/pk/shop/tracks")
            .join(track)
            .join("events.ndjson");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&events)
            .unwrap();
        let from = seen.lock().unwrap().len();
        writeln!(f, "{{\"hook_event_name\":\"{event}\",\"n\":{i}}}").unwrap();
        drop(f);
        let mut bar_at = None;
        let mut page_at = None;
        let started = Instant::now();
        while bar_at.is_none() || page_at.is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{track} never turned {state}"
            );
            if bar_at.is_none() && shows(&env.bar_text(), track, state) {
                bar_at = Some(Instant::now());
            }
            if page_at.is_none() {
                page_at = seen.lock().unwrap()[from..]
                    .iter()
                    .find(|(_, json)| page_shows(json, track, state))
                    .map(|(at, _)| *at);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let (bar_at, page_at) = (bar_at.unwrap(), page_at.unwrap());
        let delta = if page_at >= bar_at {
            page_at.duration_since(bar_at).as_secs_f64() * 1000.0
        } else {
            -(bar_at.duration_since(page_at).as_secs_f64() * 1000.0)
        };
        deltas.push(delta);
        std::thread::sleep(Duration::from_millis(150));
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.id())).unwrap();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let (rss, hwm) = (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0);
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(env.pk(&["down"]).code, 0);

    let (m, p) = (median(&deltas), percentile(&deltas, 95.0));
    println!(
        "a state change on the page after the tmux bar, {writes} changes over {tracks} tracks (ms):"
    );
    println!(
        "  median {m:>7.1}  p95 {p:>7.1}  (target p95 <= 250: {})",
        if p <= 250.0 { "met" } else { "NOT met" }
    );
    println!(
        "pk serve with {tracks} tracks: VmRSS {rss:.1} MB, VmHWM {hwm:.1} MB (target < 30 MB: {})",
        if hwm < 30.0 { "met" } else { "NOT met" }
    );
}

fn wait(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < limit, "no {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the bar shows `track` in `state`: by its word where the
/// bar has room for words, else by its mark (`●t00`: 16 tracks leave room for marks only).
fn shows(plain: &str, track: &str, state: &str) -> bool {
    let mark = match state {
        "working" => "●",
        "done" => "✓",
        _ => "?",
    };
    plain.contains(&format!(" {track} {state}"))
        || plain.contains(&format!("{mark}{track}"))
        || plain.contains(&format!("{mark} {track}"))
}

/// Whether the page's data shows `track` in `state`.
fn page_shows(json: &str, track: &str, state: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v["tracks"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| t["name"] == track && t["state"] == state)
}
