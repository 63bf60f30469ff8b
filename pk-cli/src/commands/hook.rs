//! `pk hook` (hidden): the command of the hooks pk installs (see [`crate::session::hooks`]). Appends the
//! hook's standard input (or Codex's `notify` payload) to the track's event file and exits 0,
//! quickly and quietly, whatever happened: a status hook must never get in the agent's way.
//! Its only output: a Claude `PreToolUse` of a track over its budget is denied, with the
//! reason, on standard output (Claude Code's hook output JSON).

use crate::session::hooks;
use clap::Args;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Record an agent's hook event (run by the hooks pk installs).
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The track's event file [default: $PK_EVENTS; without either, nothing is recorded].
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Run as Codex's `notify`: ARGS are the user's own notify command, if any, then the JSON
    /// payload Codex appends.
    #[arg(long)]
    pub codex_notify: bool,
    /// With `--codex-notify`: the user's notify command, then Codex's payload.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Longest a PreToolUse of a track with a budget waits for the watcher to read the response
/// before it (see [`crate::live::wait_until_read`]).
const BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Most of a payload read; the rest is not read (the line is then not JSON and skipped).
const MAX_INPUT: u64 = 64 << 20;

/// Runs `pk hook`. Always exits 0; a failure is only mentioned on stderr.
pub fn run(args: &HookArgs) -> u8 {
    // A user-level hook (Codex's) also fires in sessions pk did not start: nothing to record.
    let events = args.events.clone().or_else(|| {
        std::env::var_os(crate::session::env_vars::PK_EVENTS)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let mut deny = None;
    let line = if args.codex_notify {
        let Some((payload, user)) = args.args.split_last() else {
            return 0;
        };
        if let Some((program, rest)) = user.split_first() {
            run_user_notify(program, rest, payload);
        }
        hooks::codex_notify_line(payload, crate::util::clock::now_ms())
    } else {
        let mut input = Vec::new();
        if let Err(e) = std::io::stdin().take(MAX_INPUT).read_to_end(&mut input) {
            eprintln!("pk hook: failed to read the event: {e}");
            return 0;
        }
        let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&input) else {
            return 0;
        };
        if payload["hook_event_name"] == "PreToolUse"
            && let Some(events) = events.as_deref()
        {
            if let Some(transcript) = payload["transcript_path"].as_str() {
                crate::live::wait_until_read(
                    events,
                    std::path::Path::new(transcript),
                    payload["tool_use_id"].as_str(),
                    BUDGET_WAIT,
                );
            }
            let file = crate::session::budget::beside_events(events);
            let budget = file.and_then(|f| crate::session::budget::load(&f));
            deny = crate::session::budget::pre_tool_use_output(budget.as_ref());
        }
        hooks::event_line_of(payload, crate::util::clock::now_ms())
    };
    if let Some(deny) = deny {
        // Claude reads the decision from stdout, with exit 0.
        println!("{deny}");
    }
    let (Some(events), Some(line)) = (events, line) else {
        return 0;
    };
    let folder_exists = events.parent().is_some_and(|d| d.is_dir());
    if let Err(e) = hooks::append(&events, &line)
        // After `pk down` the folder is gone on purpose: nothing to say.
        && folder_exists
    {
        eprintln!("pk hook: {e}");
    }
    0
}

/// Starts the user's own Codex `notify` with the payload, as Codex would have, and does not
/// wait for it. Its output would land in Codex's screen: it goes nowhere.
fn run_user_notify(program: &str, args: &[String], payload: &str) {
    let started = Command::new(program)
        .args(args)
        .arg(payload)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Err(e) = started {
        eprintln!("pk hook: failed to run your Codex notify `{program}`: {e}");
    }
}
