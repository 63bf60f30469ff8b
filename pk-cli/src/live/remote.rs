//! The status of tracks on other hosts (design §11), as each host's own watcher sees them:
//! one thread per host follows `pk on-host stream` over the host's ssh connection (a line of
//! the host's status file per change) and wakes the watcher. When the stream ends (the
//! connection dropped, the host went down), the tracks keep their last status, marked as out
//! of reach, and the thread connects again every second.

use crate::sys::ssh::Ssh;
use pk_status::status_file::{StatusFile, TrackEntry};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a stream that ended waits before it connects again.
const RETRY: Duration = Duration::from_secs(1);

/// What is known of one remote track.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    /// The host watcher's last entry of it, if one came.
    pub(crate) entry: Option<TrackEntry>,
    /// Since when (Unix ms) the host's stream is lost, and why, while it is.
    pub(crate) lost: Option<(i64, Lost)>,
}

/// Why a host's stream is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lost {
    /// ssh could not reach the host, or lost it: what ssh said.
    Unreachable(String),
    /// The host's session ended (its stream said so by ending well).
    Ended,
}

/// The remote tracks' views, kept up to date by one thread per host.
#[derive(Debug, Default)]
pub(crate) struct Remotes {
    views: Arc<Mutex<HashMap<String, View>>>,
    /// The hosts followed.
    hosts: Vec<String>,
}

impl Remotes {
    /// Whether `host` is followed.
    pub(crate) fn follows(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host)
    }

    /// Follows `host`'s stream (`argv`, a pk invocation there) for `tracks`, calling `wake`
    /// after each change.
    pub(crate) fn follow(
        &mut self,
        host: &str,
        tracks: Vec<String>,
        ssh: Ssh,
        argv: Vec<String>,
        wake: impl Fn() + Send + 'static,
    ) {
        self.hosts.push(host.to_string());
        let views = Arc::clone(&self.views);
        let host = host.to_string();
        let spawned = std::thread::Builder::new()
            .name(format!("pk-remote-{host}"))
            .spawn(move || follow(&tracks, &ssh, &argv, &views, &wake));
        if let Err(e) = spawned {
            eprintln!("pk watch: cannot follow a host: {e}");
        }
    }

    /// What is known of `track`.
    pub(crate) fn view(&self, track: &str) -> Option<View> {
        self.views.lock().ok()?.get(track).cloned()
    }
}

fn follow(
    tracks: &[String],
    ssh: &Ssh,
    argv: &[String],
    views: &Mutex<HashMap<String, View>>,
    wake: &dyn Fn(),
) {
    let lose = |why: Lost| {
        let now = crate::util::clock::now_ms();
        if let Ok(mut views) = views.lock() {
            for t in tracks {
                let view = views.entry(t.clone()).or_default();
                let since = view.lost.as_ref().map_or(now, |(s, _)| *s);
                view.lost = Some((since, why.clone()));
            }
        }
        wake();
    };
    loop {
        match ssh.spawn_stream(argv) {
            Ok(mut child) => {
                if let Some(stdout) = child.stdout.take() {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        if line.trim().is_empty() {
                            continue;
                        }
                        let Some(file) = StatusFile::parse(line.as_bytes()) else {
                            continue;
                        };
                        if let Ok(mut views) = views.lock() {
                            for entry in file.tracks {
                                if tracks.contains(&entry.name) {
                                    views.insert(
                                        entry.name.clone(),
                                        View {
                                            entry: Some(entry),
                                            lost: None,
                                        },
                                    );
                                }
                            }
                        }
                        wake();
                    }
                }
                let mut said = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut said);
                }
                let status = child.wait();
                if status.as_ref().is_ok_and(std::process::ExitStatus::success) {
                    lose(Lost::Ended);
                    std::thread::sleep(RETRY);
                    continue;
                }
                let why = said
                    .lines()
                    .rev()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(|l| crate::util::text::visible(l, false))
                    .unwrap_or_else(|| match status {
                        Ok(s) => format!("its stream ended ({s})"),
                        Err(e) => e.to_string(),
                    });
                lose(Lost::Unreachable(why));
            }
            Err(e) => lose(Lost::Unreachable(format!("cannot run ssh: {e}"))),
        }
        std::thread::sleep(RETRY);
    }
}
