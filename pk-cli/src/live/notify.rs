//! Notifications to the user's phone or chat (`[notify]` in the user's settings,
//! [`crate::session::user_config`]): a short POST when a track turns waiting, done, error or
//! over-budget. Sent from a thread of its own with a timeout: a slow or failing endpoint is
//! logged in the watcher's window and never holds the bar back.

use crate::session::user_config::{Format, Notify};
use pk_status::TrackState;
use std::time::Duration;

/// The file in a session's state folder where `pk serve` says where it serves the page
/// (`{"url": "http://127.0.0.1:7477/"}`, no token), for the notifications' link.
pub(crate) const SERVED_FILE: &str = "serve.json";

/// The page `pk serve` serves for the session whose state is in `state_dir`, if it said.
pub(crate) fn served_link(state_dir: &std::path::Path) -> Option<String> {
    let text = std::fs::read(state_dir.join(SERVED_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v["url"].as_str().map(str::to_string)
}

/// How long a POST may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a change to `state` is worth a notification.
pub(crate) fn worth_it(state: TrackState) -> bool {
    matches!(
        state,
        TrackState::Waiting | TrackState::Done | TrackState::Error | TrackState::OverBudget
    )
}

/// One notification.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Notice {
    /// The session.
    pub(crate) session: String,
    /// The track.
    pub(crate) track: String,
    /// Its new state.
    pub(crate) state: TrackState,
    /// What the bar's alert says (`api waiting: Bash npm test`), clean.
    pub(crate) text: String,
    /// The page to open, if known.
    pub(crate) link: Option<String>,
}

/// The request for `notice` in `format`: content type, extra headers, body.
pub(crate) fn request(
    format: Format,
    notice: &Notice,
) -> (&'static str, Vec<(&'static str, String)>, String) {
    match format {
        Format::Json => (
            "application/json",
            Vec::new(),
            serde_json::json!({
                "session": notice.session,
                "track": notice.track,
                "state": notice.state.to_string(),
                "text": notice.text,
                "link": notice.link,
            })
            .to_string(),
        ),
        Format::Ntfy => {
            let mut headers = vec![
                (
                    "Title",
                    format!("pk {}: {} {}", notice.session, notice.track, notice.state),
                ),
                ("Tags", tag(notice.state).to_string()),
            ];
            if notice.state == TrackState::Waiting {
                headers.push(("Priority", "high".to_string()));
            }
            if let Some(link) = &notice.link {
                headers.push(("Click", link.clone()));
            }
            ("text/plain; charset=utf-8", headers, notice.text.clone())
        }
        Format::Slack => {
            let text = match &notice.link {
                Some(link) => format!("pk {}: {} <{link}|open>", notice.session, notice.text),
                None => format!("pk {}: {}", notice.session, notice.text),
            };
            (
                "application/json",
                Vec::new(),
                serde_json::json!({ "text": text }).to_string(),
            )
        }
    }
}

/// An ntfy tag (an emoji name) per state.
fn tag(state: TrackState) -> &'static str {
    match state {
        TrackState::Waiting => "raising_hand",
        TrackState::Done => "white_check_mark",
        TrackState::Error => "x",
        TrackState::OverBudget => "money_with_wings",
        _ => "robot",
    }
}

/// Posts `notice` to `notify.url` from a thread of its own; a failure is printed (the
/// watcher's window is its log), never returned.
pub(crate) fn send(notify: &Notify, notice: Notice) {
    let notify = notify.clone();
    let spawned = std::thread::Builder::new()
        .name("pk-notify".into())
        .spawn(move || {
            if let Err(e) = post(&notify, &notice) {
                println!(
                    "pk watch: notification of {} {} to {} failed: {e}",
                    notice.track, notice.state, notify.url
                );
            }
        });
    if let Err(e) = spawned {
        println!("pk watch: cannot send a notification: {e}");
    }
}

fn post(notify: &Notify, notice: &Notice) -> Result<(), String> {
    let (content_type, headers, body) = request(notify.format, notice);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    let mut req = agent.post(&notify.url).header("Content-Type", content_type);
    for (name, value) in headers {
        req = req.header(name, value);
    }
    req.send(body).map(drop).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(state: TrackState) -> Notice {
        Notice {
            session: "shop".into(),
            track: "api".into(),
            state,
            text: "api waiting: Bash npm test".into(),
            link: Some("http://box:7777/".into()),
        }
    }

    #[test]
    fn each_format_says_which_track_and_links_the_page() {
        let (ct, headers, body) = request(Format::Json, &notice(TrackState::Waiting));
        assert_eq!(ct, "application/json");
        assert!(headers.is_empty());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (v["track"].as_str(), v["state"].as_str()),
            (Some("api"), Some("waiting"))
        );
        assert_eq!(v["link"], "http://box:7777/");

        let (_, headers, body) = request(Format::Ntfy, &notice(TrackState::Waiting));
        assert_eq!(body, "api waiting: Bash npm test");
        assert!(headers.contains(&("Click", "http://box:7777/".into())));
        assert!(headers.contains(&("Priority", "high".into())));

        let (_, _, body) = request(Format::Slack, &notice(TrackState::Done));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["text"]
                .as_str()
                .unwrap()
                .contains("<http://box:7777/|open>")
        );
    }

    #[test]
    fn only_what_needs_a_person_is_sent() {
        assert!(worth_it(TrackState::Waiting) && worth_it(TrackState::OverBudget));
        assert!(!worth_it(TrackState::Working) && !worth_it(TrackState::Idle));
    }
}
