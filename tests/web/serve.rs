//! The web view (issue 15, design §12): `pk serve` on 127.0.0.1 against a real session, checked
//! with plain HTTP requests and with a real headless Chromium the size of a phone.

use crate::{events, replay_track, state_of};
use pk_tests::TestEnv;
use pk_tests::browser::{Browser, http};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running `pk serve`; killed when dropped.
struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    base: String,
    token: String,
}

impl Served {
    fn start(env: &TestEnv, extra: &[&str]) -> Served {
        let mut args = vec!["serve", "--port", "0"];
        args.extend_from_slice(extra);
        let mut child = env
            .pk_cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_else(|| {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("pk serve printed no link: {err}")
        });
        let url = first
            .strip_prefix("pk serve: ")
            .expect("the link first")
            .to_string();
        // The rest (the QR code, the notes) is read away so pk serve never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        let (base, token) = url.split_once("?token=").unwrap();
        Served {
            child,
            base: base.to_string(),
            token: token.to_string(),
        }
    }

    fn url(&self) -> String {
        format!("{}?token={}", self.base, self.token)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn plan_of(base: u16, tracks: &str) -> String {
    format!("[session]\nname = \"shop\"\n\n[ports]\nbase = {base}\n\n{tracks}")
}

#[test]
fn every_request_needs_the_token_and_the_pages_own_origin() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&env.recording_plan("shop", 4700, &["api", "web"]));
    let served = Served::start(&env, &[]);
    let http = http();
    let get = |path: &str, token: Option<&str>| {
        let mut req = http.get(format!("{}{path}", served.base));
        if let Some(t) = token {
            req = req.header("X-PK-Token", t);
        }
        let mut r = req.call().unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    };
    assert_eq!(get("", None).0, 401);
    assert_eq!(get("api/view", None).0, 401);
    assert_eq!(get("api/view", Some(&"0".repeat(64))).0, 401);
    assert_eq!(get(&format!("?token={}", served.token), None).0, 200);
    let (code, body) = get("api/view", Some(&served.token));
    assert_eq!(code, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = view["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "web"]);

    let post = |origin: Option<&str>, token: Option<&str>, body: &str| {
        let mut req = http
            .post(format!("{}api/answer", served.base))
            .header("Content-Type", "application/json");
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        if let Some(t) = token {
            req = req.header("X-PK-Token", t);
        }
        let mut r = req.send(body).unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    };
    let reply = r#"{"track":"api","action":"reply","text":"touch /tmp/pk-web-pwned"}"#;
    // Another site's page, with the token: refused.
    assert_eq!(
        post(Some("http://evil.example"), Some(&served.token), reply).0,
        403
    );
    assert_eq!(post(None, None, reply).0, 401);
    // Not a track: no pane of anyone else's, no pane by id.
    for target in ["nope", "%0", "shop:0.1", "pk-watch"] {
        let body = format!(r#"{{"track":"{target}","action":"approve"}}"#);
        assert_eq!(post(None, Some(&served.token), &body).0, 404, "{target}");
    }
    // Anything but an answer: refused.
    let run = r#"{"track":"api","action":"run","text":"ls"}"#;
    assert_eq!(post(None, Some(&served.token), run).0, 400);
    // The page's own origin with the token: typed into api's pane only.
    let own = served.base.trim_end_matches('/');
    let text = r#"{"track":"api","action":"reply","text":"hello from the phone"}"#;
    let (code, said) = post(Some(own), Some(&served.token), text);
    assert_eq!(code, 200, "{said}");
    let api = env.pane_of("api");
    env.wait_for("the reply in api's pane", 10, || {
        env.tmux(&["capture-pane", "-p", "-t", &api])
            .stdout
            .contains("hello from the phone")
    });
    let web = env.pane_of("web");
    assert!(
        !env.tmux(&["capture-pane", "-p", "-t", &web])
            .stdout
            .contains("hello from the phone")
    );

    // A new token locks the old link out, also for the server that runs.
    let rotated = Served::start(&env, &["--rotate-token"]);
    assert_ne!(rotated.token, served.token);
    assert_eq!(get("api/view", Some(&served.token)).0, 401);
    assert_eq!(get("api/view", Some(&rotated.token)).0, 200);
}

#[test]
fn a_permission_prompt_reaches_the_phone_and_approve_sets_the_agent_working() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(browser) = Browser::start(env.root()) else {
        return;
    };
    env.up_detached(&plan_of(
        4710,
        &replay_track(&env, "api", "claude-stream-waiting-permission"),
    ));
    let served = Served::start(&env, &[]);
    browser.goto(&served.url());
    env.wait_for("the page to show api", 20, || {
        browser.find("#card-api").is_some()
    });

    // From the hook that says it waits to the page: within a second.
    let events = events(&env, "api");
    env.wait_for("the permission hook", 30, || {
        std::fs::read_to_string(&events).is_ok_and(|t| t.contains("PermissionRequest"))
    });
    let hooked = Instant::now();
    env.wait_for("the page to show api waiting", 10, || {
        browser.find("#card-api[data-state=waiting]").is_some()
    });
    let took = hooked.elapsed();
    eprintln!("permission hook to the page: {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(state_of(&env.bar_text(), "api").as_deref(), Some("waiting"));
    let text = browser.text();
    assert!(
        text.contains("Approve") && text.contains("npm install"),
        "{text}"
    );
    browser.screenshot(&artifacts().join("serve-phone-waiting.png"));

    // The notifications' link has no token: this browser goes on with the one it kept.
    browser.goto(&served.base);
    env.wait_for("the page again, from the link without a token", 10, || {
        browser.find("#card-api[data-state=waiting]").is_some()
    });
    browser.click("#approve-api");
    let mut seen = Vec::new();
    env.wait_for("api to go on in tmux", 20, || {
        let s = state_of(&env.bar_text(), "api");
        if let Some(s) = &s
            && seen.last() != Some(s)
        {
            seen.push(s.clone());
        }
        matches!(s.as_deref(), Some("working" | "done"))
    });
    env.wait_for("the page to follow", 10, || {
        browser.find("#card-api[data-state=waiting]").is_none()
    });
    browser.screenshot(&artifacts().join("serve-phone-answered.png"));
}

#[test]
fn html_and_escape_sequences_from_a_transcript_render_inert() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(browser) = Browser::start(env.root()) else {
        return;
    };
    // A transcript whose tool call holds markup, a script and escape sequences.
    let fixture = env.root().join("hostile.ndjson");
    let evil = "<img src=x onerror=\\\"document.title='pwned'\\\"><script>document.title='pwned'</script>\\u001b[31mred\\u001b]0;title\\u0007";
    std::fs::write(
        &fixture,
        format!(
            "{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s1\",\"model\":\"claude-sonnet-4-5\"}}\n\
             {{\"type\":\"assistant\",\"message\":{{\"model\":\"claude-sonnet-4-5\",\"content\":[{{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Bash\",\"input\":{{\"command\":\"{evil}\"}}}}],\"usage\":{{\"input_tokens\":10,\"output_tokens\":5}}}}}}\n"
        ),
    )
    .unwrap();
    env.up_detached(&plan_of(
        4720,
        &replay_track(&env, "api", fixture.to_str().unwrap()),
    ));
    let served = Served::start(&env, &[]);
    browser.goto(&served.url());
    env.wait_for("the page to show the tool call", 30, || {
        browser.text().contains("<img src=x")
    });
    assert_eq!(browser.eval("return document.title;"), "pk");
    assert_eq!(browser.eval("return document.images.length;"), 0);
    assert_eq!(
        browser.eval("return document.scripts.length;"),
        1,
        "only the page's own"
    );
    let text = browser.text();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    browser.screenshot(&artifacts().join("serve-phone-hostile.png"));
}

#[test]
fn a_track_that_turns_waiting_or_done_is_posted_to_the_users_notify_url() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    // A local listener records every request it gets.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then the body its Content-Length says.
                loop {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                let _ = tx.send(String::from_utf8_lossy(&buf).to_string());
            });
        }
    });
    let config = env.root().join("cfgh/pk");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[notify]\nurl = \"http://127.0.0.1:{port}/hook\"\nlink = \"http://phone.example/\"\n"
        ),
    )
    .unwrap();
    env.up_detached(&plan_of(
        4730,
        &replay_track(&env, "api", "claude-stream-waiting-permission"),
    ));
    let waiting = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a notification");
    assert!(waiting.starts_with("POST /hook "), "{waiting}");
    let body = &waiting[waiting.find("\r\n\r\n").unwrap() + 4..];
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["session"], "shop");
    assert_eq!(v["track"], "api");
    assert_eq!(v["state"], "waiting");
    assert_eq!(v["link"], "http://phone.example/");
    // Answered: done is posted too.
    assert_eq!(
        env.tmux(&["send-keys", "-t", &env.pane_of("api"), "Enter"])
            .code,
        0
    );
    let done = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a second notification");
    assert!(done.contains("\"state\":\"done\""), "{done}");
}

/// Where the tests leave what a person may want to look at (the phone-sized screenshots).
fn artifacts() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pk-artifacts")
}

#[test]
fn pk_serve_answers_an_agent_in_a_zellij_session_too() {
    if !pk_tests::zellij_available() || !pk_tests::tmux_available() {
        return;
    }
    let env = TestEnv::new();
    env.quiet_zellij();
    env.write_plan(&format!(
        "[session]\nname = \"shop\"\nmultiplexer = \"zellij\"\n\n[ports]\nbase = 4740\n\n{}",
        replay_track(&env, "api", "claude-stream-waiting-permission")
    ));
    env.pk_ok(&["up", "--detach"]);
    let _screen = env.attach_zellij_screen("shop");
    let served = Served::start(&env, &[]);
    let http = http();
    let state = || {
        let mut r = http
            .get(format!("{}api/view", served.base))
            .header("X-PK-Token", &served.token)
            .call()
            .unwrap();
        let v: serde_json::Value = r.body_mut().read_json().unwrap_or_default();
        v["tracks"][0]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    env.wait_for("the page's data to show api waiting", 60, || {
        state() == "waiting"
    });
    let mut r = http
        .post(format!("{}api/answer", served.base))
        .header("X-PK-Token", &served.token)
        .header("Content-Type", "application/json")
        .send(r#"{"track":"api","action":"approve"}"#)
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.body_mut().read_to_string().unwrap_or_default()
    );
    env.wait_for("api to finish once approved through zellij", 30, || {
        state() == "done"
    });
    env.pk_ok(&["down"]);
}
