//! The processes a track started end with its session: `setup`'s dev servers, the agent's
//! children, whatever they started in turn.
//!
//! A multiplexer ends a pane by hanging up its terminal. The kernel then sends SIGHUP to the
//! pane's foreground process group, which ends a plain `sleep 300 &` of `setup`, but not a
//! process that ignores SIGHUP (`nohup`, many dev servers), runs in another process group (an
//! interactive shell's background jobs) or in a terminal session of its own (`setsid`). So:
//!
//! - `pk agent-run`, the first process of every agent pane (and so the leader of the pane's
//!   terminal session), records who it is in the track's folder
//!   (`<state dir>/tracks/<track>/runs.ndjson`, one line per start) and hands `setup` and the
//!   agent a variable of their own, `PK_RUN_ID`, which their children inherit;
//! - `pk down`, once the session is gone, ends every process that runs in such a recorded
//!   terminal session or carries such a `PK_RUN_ID`: SIGTERM, a moment to exit, then SIGKILL.
//!
//! Never anything else: a recorded session id counts only while it cannot belong to another
//! session (its leader is gone, and the kernel does not reuse the id while any member lives; or
//! its leader is the very process that recorded it, by start time), and pk itself and its
//! ancestors are spared. This reads `/proc` (Linux). Elsewhere only the pane's process group is
//! ended, and only once its leader is gone.

use crate::error::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The file, in a track's folder, that lists the panes' runs.
pub(crate) const RUNS_FILE: &str = "runs.ndjson";

/// Set by `pk agent-run` for `setup` and the agent: the id of this start of the track's pane.
/// `pk down` ends every process that carries it. Listed with the other variables in
/// `session::env_vars`.
pub(crate) const PK_RUN_ID: &str = "PK_RUN_ID";

/// How long processes get to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// One start of `pk agent-run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Run {
    /// The value of `PK_RUN_ID` its processes carry.
    pub id: String,
    /// Its process id.
    pub pid: i32,
    /// The terminal session it leads (the pane's), when it leads one.
    pub sid: Option<i32>,
    /// When it started (Linux: clock ticks after boot), to tell it from a later process that
    /// got the same id.
    pub start: Option<u64>,
}

/// Records this process as a run of the track whose folder (in the state folder) is `dir` and
/// returns its `PK_RUN_ID`.
pub(crate) fn record(dir: &Path) -> Result<String> {
    let pid = std::process::id() as i32;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let sid = imp::session_id(pid).filter(|sid| *sid == pid);
    append_run(
        dir,
        Run {
            id: format!("{pid}-{nanos}"),
            pid,
            sid,
            start: imp::start_time(pid),
        },
    )
}

/// Appends `run` to the runs file in `dir` (made if need be); returns its id.
fn append_run(dir: &Path, run: Run) -> Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let path = dir.join(RUNS_FILE);
    let mut line = serde_json::to_string(&run).context("failed to encode the run")?;
    line.push('\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(run.id)
}

/// The file, in a track's folder, that names the agent process of the pane's latest run.
pub(crate) const AGENT_FILE: &str = "agent.json";

/// The agent process of a track: what pk interrupts when the track's budget is spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AgentProc {
    /// Its process id.
    pub pid: i32,
    /// When it started (Linux: clock ticks after boot): a later process with the same id is
    /// not it.
    pub start: Option<u64>,
}

/// Records `pid` as the agent process of the track whose folder is `dir` (replacing the one
/// of an earlier run).
pub(crate) fn record_agent(dir: &Path, pid: u32) -> Result<()> {
    let pid = pid as i32;
    let agent = AgentProc {
        pid,
        start: imp::start_time(pid),
    };
    let bytes = serde_json::to_vec(&agent).context("failed to encode the agent")?;
    crate::util::fs::write_atomically(&dir.join(AGENT_FILE), &bytes)
}

/// Sends SIGINT (what Ctrl-C in its terminal sends) to the track's agent process alone, as
/// recorded by [`record_agent`]. False when there is none, it is gone, or its id now belongs
/// to another process.
pub(crate) fn interrupt_agent(dir: &Path) -> bool {
    let Some(agent) = std::fs::read(dir.join(AGENT_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<AgentProc>(&b).ok())
    else {
        return false;
    };
    if agent.start.is_some() && imp::start_time(agent.pid) != agent.start {
        return false;
    }
    let Some(pid) = rustix::process::Pid::from_raw(agent.pid) else {
        return false;
    };
    rustix::process::kill_process(pid, rustix::process::Signal::INT).is_ok()
}

/// Records a run for processes this one starts (not for itself: no terminal session), in the
/// track's folder `dir`, and returns the `PK_RUN_ID` to hand them, so that `pk down` ends them
/// (the watcher's `done_when` checks).
pub(crate) fn record_others(dir: &Path) -> Result<String> {
    let pid = std::process::id() as i32;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    append_run(
        dir,
        Run {
            id: format!("{pid}-{nanos}-children"),
            pid,
            sid: None,
            start: imp::start_time(pid),
        },
    )
}

/// Every run recorded under the session's state folder, of every track (also of tracks no
/// longer in the plan).
pub(crate) fn runs(state_dir: &Path) -> Vec<Run> {
    let Ok(entries) = std::fs::read_dir(state_dir.join("tracks")) else {
        return Vec::new();
    };
    entries.flatten().flat_map(|e| runs_in(&e.path())).collect()
}

/// The runs recorded in one track's folder.
fn runs_in(track_dir: &Path) -> Vec<Run> {
    let Ok(text) = std::fs::read_to_string(track_dir.join(RUNS_FILE)) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Run>(l).ok())
        .collect()
}

/// Ends the processes of the session's recorded runs (see the module's doc). Returns how many
/// there were. Best effort: a process pk may not signal is left alone.
pub(crate) fn end_all(state_dir: &Path) -> usize {
    let runs = runs(state_dir);
    if runs.is_empty() {
        return 0;
    }
    imp::end(&runs)
}

/// Ends the processes of one track's recorded runs (a landed track's agent and what it left
/// running), as [`end_all`] does for the session. Returns how many runs there were.
pub(crate) fn end_track(track_dir: &Path) -> usize {
    let runs = runs_in(track_dir);
    if runs.is_empty() {
        return 0;
    }
    imp::end(&runs)
}

/// Waits until `gone` or the deadline; true when gone.
fn wait_until(deadline: Instant, mut gone: impl FnMut() -> bool) -> bool {
    loop {
        if gone() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The exit code a shell would report: the child's code, or 128 + the signal that ended it.
pub(crate) fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128u8.saturating_add(sig as u8),
        _ => 1,
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{GRACE, Run, wait_until};
    use rustix::process::{Pid, Signal, kill_process};
    use std::collections::HashSet;
    use std::time::Instant;

    /// What `/proc/<pid>/stat` says of a process.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Stat {
        pub state: char,
        pub ppid: i32,
        pub sid: i32,
        pub start: u64,
    }

    /// Parses `/proc/<pid>/stat`: the command name is in parentheses and may hold anything,
    /// so the fields are counted from the last `)`.
    pub(super) fn parse_stat(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Fields 3 (state), 4 (ppid), 6 (session) and 22 (starttime) of proc_pid_stat(5).
        Some(Stat {
            state: fields.first()?.chars().next()?,
            ppid: fields.get(1)?.parse().ok()?,
            sid: fields.get(3)?.parse().ok()?,
            start: fields.get(19)?.parse().ok()?,
        })
    }

    fn stat(pid: i32) -> Option<Stat> {
        parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    pub(super) fn start_time(pid: i32) -> Option<u64> {
        stat(pid).map(|s| s.start)
    }

    /// The terminal session `pid` is in. Read from `/proc`, not with `getsid`: in a PID
    /// namespace whose session leader lives outside it (a container, CI) the session id is 0,
    /// and rustix's `getsid` asserts that it is positive.
    pub(super) fn session_id(pid: i32) -> Option<i32> {
        stat(pid).map(|s| s.sid).filter(|sid| *sid > 0)
    }

    /// True when the process `pid` that started at `start` has ended (a zombie has).
    fn gone(pid: i32, start: u64) -> bool {
        stat(pid).is_none_or(|s| s.start != start || s.state == 'Z' || s.state == 'X')
    }

    fn carries(pid: i32, ids: &[String]) -> bool {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            return false;
        };
        environ.split(|b| *b == 0).any(|var| {
            var.strip_prefix(super::PK_RUN_ID.as_bytes())
                .and_then(|v| v.strip_prefix(b"="))
                .is_some_and(|v| ids.iter().any(|id| id.as_bytes() == v))
        })
    }

    /// This process and its ancestors: never signalled.
    fn lineage() -> HashSet<i32> {
        let mut out = HashSet::new();
        let mut pid = std::process::id() as i32;
        while pid > 1 && out.insert(pid) {
            match stat(pid) {
                Some(s) => pid = s.ppid,
                None => break,
            }
        }
        out
    }

    /// The live processes of the runs, with their start times.
    fn scan(runs: &[Run], spared: &HashSet<i32>) -> Vec<(i32, u64)> {
        let sessions: HashSet<i32> = runs
            .iter()
            .filter_map(|r| {
                let sid = r.sid?;
                // The leader gone, the id is still the pane's while any member lives; the leader
                // there, it must be the one that recorded it.
                match stat(sid) {
                    None => Some(sid),
                    Some(s) if Some(s.start) == r.start => Some(sid),
                    Some(_) => None,
                }
            })
            .collect();
        let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if spared.contains(&pid) {
                continue;
            }
            let Some(s) = stat(pid) else { continue };
            if s.state == 'Z' || s.state == 'X' {
                continue;
            }
            if sessions.contains(&s.sid) || carries(pid, &ids) {
                out.push((pid, s.start));
            }
        }
        out
    }

    fn signal(procs: &[(i32, u64)], sig: Signal) {
        for &(pid, start) in procs {
            if let Some(p) = Pid::from_raw(pid)
                && !gone(pid, start)
            {
                let _ = kill_process(p, sig);
            }
        }
    }

    pub(super) fn end(runs: &[Run]) -> usize {
        let spared = lineage();
        let first = scan(runs, &spared);
        if first.is_empty() {
            return 0;
        }
        signal(&first, Signal::TERM);
        wait_until(Instant::now() + GRACE, || {
            first.iter().all(|&(pid, start)| gone(pid, start))
        });
        // Again: what ignored SIGTERM, and what was started meanwhile.
        let rest = scan(runs, &spared);
        signal(&rest, Signal::KILL);
        wait_until(Instant::now() + GRACE, || {
            rest.iter().all(|&(pid, start)| gone(pid, start))
        });
        let mut all: HashSet<i32> = first.iter().map(|p| p.0).collect();
        all.extend(rest.iter().map(|p| p.0));
        all.len()
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{GRACE, Run, wait_until};
    use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
    use std::time::Instant;

    pub(super) fn start_time(_pid: i32) -> Option<u64> {
        None
    }

    pub(super) fn session_id(_pid: i32) -> Option<i32> {
        rustix::process::getsid(None).ok().map(|p| p.as_raw_pid())
    }

    /// Ends the pane's process group (its id is the leader's, the recorded session's), once
    /// its leader is gone: until then the id could be another process's.
    pub(super) fn end(runs: &[Run]) -> usize {
        let mut ended = 0;
        for run in runs {
            let Some(group) = run.sid.and_then(Pid::from_raw) else {
                continue;
            };
            let leader_gone = || rustix::process::test_kill_process(group).is_err();
            if !wait_until(Instant::now() + GRACE, leader_gone)
                || test_kill_process_group(group).is_err()
            {
                continue;
            }
            ended += 1;
            let _ = kill_process_group(group, Signal::TERM);
            let empty = || test_kill_process_group(group).is_err();
            if !wait_until(Instant::now() + GRACE, empty) {
                let _ = kill_process_group(group, Signal::KILL);
            }
        }
        ended
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_odd_command_names() {
        let text =
            "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let s = imp::parse_stat(text).unwrap();
        assert_eq!((s.state, s.ppid, s.sid, s.start), ('S', 1, 4242, 987654));
        assert_eq!(imp::parse_stat("12 (x) S 1"), None);
    }

    #[test]
    fn records_runs_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = record(&dir.path().join("tracks/api")).unwrap();
        let b = record(&dir.path().join("tracks/web")).unwrap();
        let mut ids: Vec<String> = runs(dir.path()).into_iter().map(|r| r.id).collect();
        ids.sort();
        let mut want = vec![a, b];
        want.sort();
        assert_eq!(ids, want);
        let run = &runs(dir.path())[0];
        assert_eq!(run.pid, std::process::id() as i32);
        assert!(run.start.is_some());
    }
}
