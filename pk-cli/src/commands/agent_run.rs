//! `pk agent-run` (hidden): what every agent pane runs. It sets the track's environment and
//! folder (zellij layouts cannot set a pane's environment, and tmux's `-e` is per call), runs
//! `setup` visibly, then replaces itself with the agent. A headless agent prints a stream of
//! JSON events rather than text for people: pk then stays between the agent and the pane,
//! keeps the raw stream as the track's transcript and shows a readable line per event.
//!
//! Everything it starts carries `PK_RUN_ID`, recorded in the track's folder with the pane's
//! terminal session, so that `pk down` ends what `setup` and the agent left running
//! ([`crate::sys::procs`]).

use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use crate::session::state::State;
use clap::Args;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Start a track's agent in this terminal (used by the panes pk makes).
#[derive(Debug, Args)]
pub struct AgentRunArgs {
    /// The session's state folder (`.git/pk/<session>`).
    #[arg(long)]
    pub state_dir: PathBuf,
    /// The track.
    pub track: String,
}

/// Runs `pk agent-run`. Returns only when something failed before the agent started.
pub fn run(ctx: &Ctx, args: &AgentRunArgs) -> Result<u8> {
    let state = State::load(&args.state_dir)?
        .ok_or_else(|| Error::failure(format!("no pk state in {}", args.state_dir.display())))?;
    let rec = state
        .track(&args.track)
        .ok_or_else(|| Error::failure(format!("track `{}` is not in pk's state", args.track)))?;
    if rec.host.is_some() {
        // The agent runs on its host; this pane shows it (design §11).
        return crate::session::remote::attach(&args.state_dir, &state, rec);
    }
    let launch = &rec.launch;
    let mut env = launch.env.clone();
    match crate::sys::procs::record(&crate::session::transcript::track_dir(
        &args.state_dir,
        &rec.name,
    )) {
        Ok(id) => env.push((crate::session::env_vars::PK_RUN_ID.to_string(), id)),
        Err(e) => {
            eprintln!("pk: {e}\n  `pk down` may not end the processes this track leaves running")
        }
    }
    std::env::set_current_dir(&rec.worktree)
        .with_context(|| format!("failed to enter {}", rec.worktree.display()))?;
    let bold = |s: &str| ctx.out.paint(crate::output::Style::Bold, s);
    // Starts with session::agent::pane_header_start, by which pk tells its line from the agent's.
    println!(
        "{} · branch {} · port {} · {}",
        bold(&format!("pk track {}", rec.name)),
        rec.branch,
        rec.port(),
        launch.agent
    );
    if launch.agent == "shell" {
        let var = |name: &str| launch.env.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        if let Some(prompt) = var(crate::session::env_vars::PK_PROMPT) {
            println!("task: {prompt}");
        } else if let Some(file) = var(crate::session::env_vars::PK_PROMPT_FILE) {
            // Too long to show whole (crate::plan::prompt): where it is.
            println!("task: in {file}");
        }
    }
    for cmd in &launch.setup {
        println!("{} {cmd}", bold("$"));
        let status = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .status()
            .with_context(|| format!("failed to run setup `{cmd}`"))?;
        if !status.success() {
            let code = crate::sys::procs::exit_code(status);
            eprintln!("setup `{cmd}` failed (exit {code}); the agent was not started");
            return Ok(code);
        }
    }
    let track_dir = crate::session::transcript::track_dir(&args.state_dir, &rec.name);
    if rec.finished_before {
        println!(
            "pk: {} had finished its run before this session; it is not run again, and the bar and `pk status` show its run as it ended.\n  `pk up --fresh {}` runs it again.",
            launch.agent, rec.name
        );
        return Ok(0);
    }
    if let (Some(c), Some(base)) = (&rec.resumed, &launch.resume_base) {
        let argv = crate::session::agent::resume_argv(base, &c.id);
        println!("pk: resuming conversation {}", c.id);
        match resume(&argv, &env, &track_dir, launch.tee.as_ref()) {
            Ok(Some(code)) => return Ok(code),
            Ok(None) => {
                let why = format!(
                    "{} did not resume conversation {} (it failed at once)",
                    launch.agent, c.id
                );
                println!("pk: {why}; starting from the prompt");
                crate::live::conversation::record_refusal(&args.state_dir, &rec.name, &why);
            }
            Err(e) => println!(
                "pk: failed to start `{}` ({e}); starting from the prompt",
                argv[0]
            ),
        }
    }
    let Some((program, rest)) = launch.argv.split_first() else {
        return Err(Error::failure("the track has no command to run"));
    };
    let mut cmd = Command::new(program);
    cmd.args(rest).envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(path) = &launch.stdin {
        let file = std::fs::File::open(path)
            .with_context(|| format!("failed to open the prompt {}", path.display()))
            .map_err(|e| e.hint("run `pk up` again: it writes the prompt there"))?;
        cmd.stdin(file);
    }
    let err = match &launch.tee {
        Some(tee) => match tee_stream(&mut cmd, tee, &track_dir) {
            Ok(code) => return Ok(code),
            Err(e) => e,
        },
        None => {
            // The agent replaces this process: same id, same start time.
            note_agent(&track_dir, std::process::id());
            cmd.exec()
        }
    };
    let hint = if err.kind() == std::io::ErrorKind::NotFound {
        format!("is `{program}` installed and on PATH?")
    } else {
        "check the track's `agent` or `command` in the plan".to_string()
    };
    eprintln!("pk: failed to start `{program}`: {err}\n  hint: {hint}");
    Ok(127)
}

/// A resumed agent that ends with a failure this soon refused the resume (Claude Code exits 1
/// at once with "No conversation found"): the agent then starts from its prompt.
const REFUSED_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the agent resuming its conversation, as a child (so that a refusal can be followed by
/// a fresh start), its stream kept as usual for a headless one; this process ignores the Ctrl-C
/// and Ctrl-\\ meant for the agent meanwhile. Returns the agent's exit code, or `None` when it
/// refused.
fn resume(
    argv: &[String],
    env: &[(String, String)],
    track_dir: &std::path::Path,
    tee: Option<&crate::session::state::Tee>,
) -> std::io::Result<Option<u8>> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    // A handler, not SIG_IGN: this process lives on through Ctrl-C, and the agent (a child,
    // exec'd) gets the default disposition back, so Ctrl-C reaches it as in any pane.
    let caught = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGQUIT] {
        signal_hook::flag::register(signal, Arc::clone(&caught))?;
    }
    let started = std::time::Instant::now();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).envs(env.iter().map(|(k, v)| (k, v)));
    let code = match tee {
        Some(tee) => tee_stream(&mut cmd, tee, track_dir)?,
        None => {
            let mut child = cmd.spawn()?;
            note_agent(track_dir, child.id());
            crate::sys::procs::exit_code(child.wait()?)
        }
    };
    // A refusal is the CLI's own quick failure: not an exit the user asked for with Ctrl-C, not
    // one by a signal.
    let interrupted = caught.load(std::sync::atomic::Ordering::SeqCst) || code >= 128;
    let refused = code != 0 && !interrupted && started.elapsed() < REFUSED_WITHIN;
    Ok((!refused).then_some(code))
}

/// Records the agent's process for the watcher, which interrupts it when the track's budget
/// is spent. A failure only costs that interrupt.
fn note_agent(track_dir: &std::path::Path, pid: u32) {
    if let Err(e) = crate::sys::procs::record_agent(track_dir, pid) {
        eprintln!("pk: {e}\n  pk cannot interrupt this agent when its budget is spent");
    }
}

/// Runs a headless agent with its standard output appended, line by line as it comes, to the
/// transcript, and shown readably. Returns the agent's exit code; an error only when it could
/// not be started.
fn tee_stream(
    cmd: &mut Command,
    tee: &crate::session::state::Tee,
    track_dir: &std::path::Path,
) -> std::io::Result<u8> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&tee.path)?;
    let mut child = cmd.stdout(Stdio::piped()).spawn()?;
    note_agent(track_dir, child.id());
    let mut out = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = Vec::new();
    loop {
        line.clear();
        match out.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // The conversation the stream opens (a resume may open it again; the last wins), for
        // `pk up` to resume after the session is gone.
        if let Some(id) = crate::live::conversation::id_in_line(line.trim_ascii_end()) {
            let c = crate::live::conversation::Conversation {
                id,
                transcript: tee.path.clone(),
            };
            if let Err(e) = crate::live::conversation::save_in(track_dir, &c) {
                eprintln!("pk: {e}");
            }
        }
        // The raw bytes, written whole: the watcher reads them as they arrive.
        if let Err(e) = file.write_all(&line) {
            eprintln!(
                "pk: failed to keep the transcript in {}: {e}",
                tee.path.display()
            );
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(shown) = crate::live::render::show_line(text.trim_end()) {
            println!("{shown}");
        }
    }
    let status = child.wait()?;
    Ok(crate::sys::procs::exit_code(status))
}
