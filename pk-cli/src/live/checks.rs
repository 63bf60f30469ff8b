//! The watcher's side of `done_when` ([`crate::session::check`]): when a track's turn ends
//! (it turns done or waiting after working) and its tree changed since the check last ran,
//! the check runs, on a thread of its own so that the bar never waits for it, one run per
//! track at a time. A turn that ends while its check runs is checked again once that run ends,
//! if the tree changed meanwhile.
//!
//! The thread saves the result itself (`check.json`, in the track's folder, which the watcher
//! watches): that wakes the watcher, which then shows it.

use crate::live::dirt::Worktree;
use crate::session::check::{self, Outcome};
use crate::session::state::State;
use pk_status::status_file::Check;
use pk_status::{Timestamp, TrackState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// A check that runs.
struct Running {
    since: Timestamp,
    handle: JoinHandle<Option<Outcome>>,
}

/// What the watcher knows of one track's check.
#[derive(Default)]
struct Track {
    /// A turn ended: check once the tree is known.
    wanted: bool,
    running: Option<Running>,
    last: Option<Outcome>,
    /// When `check.json` changed last, as read: `pk land` saves the checks it runs there.
    stamp: Option<std::time::SystemTime>,
    /// The state seen last (`None` before the first look).
    state: Option<TrackState>,
}

/// Every track's check.
pub(crate) struct Checks {
    state_dir: PathBuf,
    tracks: HashMap<String, Track>,
    /// The `PK_RUN_ID` of each track's checks, recorded once so that `pk down` ends them.
    run_ids: HashMap<String, String>,
}

/// Whether going from `before` to `after` ends an agent's turn.
pub(crate) fn turn_ended(before: Option<TrackState>, after: TrackState) -> bool {
    use TrackState::*;
    matches!(after, Done | Waiting) && matches!(before, None | Some(Starting | Working | Idle))
}

/// When a track's `check.json` was last written, if it exists.
fn result_stamp(state_dir: &Path, track: &str) -> Option<std::time::SystemTime> {
    std::fs::metadata(
        crate::session::transcript::track_dir(state_dir, track).join(check::RESULT_FILE),
    )
    .and_then(|m| m.modified())
    .ok()
}

impl Checks {
    pub(crate) fn new(state_dir: &Path) -> Checks {
        Checks {
            state_dir: state_dir.to_path_buf(),
            tracks: HashMap::new(),
            run_ids: HashMap::new(),
        }
    }

    /// Notes the state of `track` now; a turn that ended asks for a check.
    pub(crate) fn observe(&mut self, track: &str, state: TrackState) {
        let dir = &self.state_dir;
        let t = self
            .tracks
            .entry(track.to_string())
            .or_insert_with(|| Track {
                stamp: result_stamp(dir, track),
                last: check::load(dir, track),
                ..Track::default()
            });
        if t.state != Some(state) && turn_ended(t.state, state) {
            t.wanted = true;
        }
        t.state = Some(state);
    }

    /// Collects the runs that ended, starts the checks that are wanted and due: the track has
    /// a `done_when`, no check running, a current count of its tree, and that tree is not the
    /// one its last check ran on. True when something shown changed.
    pub(crate) fn drive(&mut self, state: &State, worktrees: &[Worktree]) -> bool {
        let mut changed = false;
        for (name, t) in &mut self.tracks {
            if t.running.is_none() {
                // A result saved by another process (`pk land`'s own run of the check).
                let stamp = result_stamp(&self.state_dir, name);
                if stamp != t.stamp {
                    t.stamp = stamp;
                    let last = check::load(&self.state_dir, name);
                    if last.is_some() && last != t.last {
                        t.last = last;
                        changed = true;
                    }
                }
            }
            if t.running.as_ref().is_some_and(|r| r.handle.is_finished()) {
                let run = t.running.take().expect("checked above");
                if let Ok(Some(outcome)) = run.handle.join() {
                    t.last = Some(outcome);
                }
                t.stamp = result_stamp(&self.state_dir, name);
                changed = true;
                println!(
                    "pk watch: {name}: done_when {}",
                    match &t.last {
                        Some(o) if o.passed => "passed".to_string(),
                        Some(o) => format!("failed (exit {})", o.code),
                        None => "could not run".to_string(),
                    }
                );
            }
            if !t.wanted || t.running.is_some() {
                continue;
            }
            let Some(rec) = state.track(name) else {
                t.wanted = false;
                continue;
            };
            let Some(command) = rec.launch.done_when.clone() else {
                t.wanted = false;
                continue;
            };
            let Some(tree) = worktrees
                .iter()
                .find(|w| w.track == *name)
                .and_then(|w| w.tree().map(str::to_string))
            else {
                continue; // Not counted yet: on a later cycle.
            };
            t.wanted = false;
            if t.last
                .as_ref()
                .is_some_and(|o| o.tree == tree && o.command == command)
            {
                continue;
            }
            let mut env = rec.launch.env.clone();
            let track_dir = crate::session::transcript::track_dir(&self.state_dir, name);
            let run_id = self.run_ids.entry(name.clone()).or_insert_with(|| {
                crate::sys::procs::record_others(&track_dir).unwrap_or_default()
            });
            if !run_id.is_empty() {
                env.push((crate::sys::procs::PK_RUN_ID.to_string(), run_id.clone()));
            }
            let (dir, name2, state_dir) =
                (rec.worktree.clone(), name.clone(), self.state_dir.clone());
            println!("pk watch: {name}: running done_when `{command}`");
            let handle = std::thread::spawn(move || {
                let log = check::log_path(&state_dir, &name2);
                let run = check::Run {
                    command: &command,
                    dir: &dir,
                    env: &env,
                    log: &log,
                };
                let (passed, code) = match check::run(&run) {
                    Ok(result) => result,
                    Err(e) => {
                        eprintln!("pk watch: {name2}: {e}");
                        return None;
                    }
                };
                let outcome = Outcome {
                    command: command.clone(),
                    passed,
                    code,
                    at: Timestamp(crate::util::clock::now_ms()),
                    tree,
                };
                if let Err(e) = check::save(&state_dir, &name2, &outcome) {
                    eprintln!("pk watch: {name2}: {e}");
                }
                Some(outcome)
            });
            t.running = Some(Running {
                since: Timestamp(crate::util::clock::now_ms()),
                handle,
            });
            changed = true;
        }
        changed
    }

    /// What `pk status` and the bar show of `track`'s check; `None` when it has no
    /// `done_when`.
    pub(crate) fn shown(&self, state: &State, track: &str, tree: Option<&str>) -> Option<Check> {
        state.track(track)?.launch.done_when.as_ref()?;
        let t = self.tracks.get(track);
        Some(check::shown(
            t.and_then(|t| t.last.as_ref()),
            t.and_then(|t| t.running.as_ref()).map(|r| r.since),
            tree,
            &check::log_path(&self.state_dir, track),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_ends_when_an_agent_stops_working() {
        use TrackState::*;
        assert!(turn_ended(Some(Working), Done));
        assert!(turn_ended(Some(Working), Waiting));
        assert!(turn_ended(Some(Starting), Done));
        assert!(turn_ended(None, Done), "a watcher started after the turn");
        assert!(
            !turn_ended(Some(Waiting), Done),
            "an answer, not a turn of work"
        );
        assert!(!turn_ended(Some(Working), Error));
        assert!(!turn_ended(Some(Done), Working));
    }
}
