//! `pk hook` (hidden): the command of the Claude Code hooks pk installs (see [`crate::hooks`]).
//! Appends the hook's standard input to the track's event file and exits 0, quickly and
//! quietly, whatever happened: a status hook must never get in Claude's way.

use crate::hooks;
use clap::Args;
use std::io::Read;
use std::path::PathBuf;

/// Record a Claude Code hook event (run by the hooks pk installs).
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The track's event file.
    #[arg(long, value_name = "FILE")]
    pub events: PathBuf,
}

/// Most of a payload read; the rest is not read (the line is then not JSON and skipped).
const MAX_INPUT: u64 = 64 << 20;

/// Runs `pk hook`. Always exits 0; a failure is only mentioned on stderr.
pub fn run(args: &HookArgs) -> u8 {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_INPUT).read_to_end(&mut input) {
        eprintln!("pk hook: failed to read the event: {e}");
        return 0;
    }
    let folder_exists = args.events.parent().is_some_and(|d| d.is_dir());
    if let Some(line) = hooks::event_line(&input, crate::live::now_ms())
        && let Err(e) = hooks::append(&args.events, &line)
        // After `pk down` the folder is gone on purpose: nothing to say.
        && folder_exists
    {
        eprintln!("pk hook: {e}");
    }
    0
}
