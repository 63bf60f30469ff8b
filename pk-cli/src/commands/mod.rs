//! One module per subcommand: `XxxArgs` (its doc comment is the help text) and `run`.

mod agent_run;
mod approve;
mod check;
mod completions;
// Inline for one commit, so that git sees the move of the old file to its domain module.
mod demo {
    //! `pk demo`: make the demo repository, start it, tell the user what they see.

    use crate::ctx::Ctx;
    use crate::error::Result;
    use crate::output::Style;
    use crate::session::workspace::Workspace;
    use crate::session::{approval, demo, provision};
    use clap::Args;
    use std::io::IsTerminal;
    use std::path::PathBuf;

    /// Try pk on a throwaway repository with three fake agents (no AI account needed).
    ///
    /// Makes a small git repository in a new temporary folder, writes a plan with three tracks
    /// whose agents replay recorded sessions, and runs `pk up`. `pk down` in that repository
    /// removes everything the demo made.
    ///
    /// Examples:
    ///   pk demo
    ///   pk demo --detach --dir /tmp/pk-demo
    ///   pk demo --zellij
    #[derive(Debug, Args)]
    #[command(verbatim_doc_comment)]
    pub struct DemoArgs {
        /// Where to make the demo (must not exist) [default: a new folder under $TMPDIR].
        #[arg(long)]
        pub dir: Option<PathBuf>,
        /// Do not attach to the session.
        #[arg(long, short)]
        pub detach: bool,
        /// Show the demo in zellij (0.45) instead of tmux.
        #[arg(long)]
        pub zellij: bool,
    }

    /// Runs `pk demo`.
    pub fn run(ctx: &Ctx, args: &DemoArgs) -> Result<()> {
        let multiplexer = if args.zellij {
            crate::plan::Multiplexer::Zellij
        } else {
            crate::plan::Multiplexer::Tmux
        };
        let (root, repo) = demo::make(args.dir.as_deref(), multiplexer)?;

        let demo_ctx = Ctx {
            cwd: repo.clone(),
            ..ctx.clone()
        };
        let ws = Workspace::open(&demo_ctx, None)?;
        // pk wrote this plan itself: its commands are approved.
        let commands = approval::Commands::of(&ws.plan);
        approval::approve(&ws.plan.path, &commands)?;
        let mut up = provision::up(&demo_ctx, &ws, ws.plan.session.multiplexer)?;
        up.state.demo_root = Some(root.clone());
        up.state.save(&ws.state_dir)?;
        let socket = ctx
            .socket
            .as_ref()
            .map(|s| format!(" --socket {s}"))
            .unwrap_or_default();
        ctx.out.step(&format!(
            "\n{} the demo runs in {}\n  the status bar shows three fake agents: api finishes, web waits for your\n  permission (press Enter in its pane), docs fails\n  watch it:     pk{socket} status   (in {})\n  tear it down: cd {} && pk{socket} down   (removes {})",
            ctx.out.paint(Style::Green, "ok:"),
            ctx.out.paint(Style::Bold, &ws.plan.session.name),
            repo.display(),
            repo.display(),
            root.display()
        ));
        if !args.detach && std::io::stdin().is_terminal() {
            up.mux.attach(&ws.plan.session.name)?;
        }
        Ok(())
    }
}
// Inline for one commit, so that git sees the move of the old file to its domain module.
mod down {
    //! `pk down`: tear the session down (see [`crate::session::teardown`]).

    use crate::cli::PlanArg;
    use crate::ctx::Ctx;
    use crate::error::Result;
    use crate::session::teardown::{self, Down};
    use clap::Args;

    /// Tear the session down and remove the worktrees pk created, never losing work.
    ///
    /// Refuses (exit 3), listing every changed and untracked file, when a worktree holds work
    /// that is not committed, unless --force; with --force that work is first saved as a commit on
    /// `refs/pk/saved/<track>/<time>` and pk prints the command that brings it back. Work git
    /// status does not show counts too: ignored files matching `[session] keep` (saved with the
    /// rest), commits on no branch (kept on refs/pk/saved/), nested repositories and submodules
    /// with work (moved whole under .git/pk-saved/). Other ignored files go, summarised per top
    /// folder. Branches are kept; --delete-branches deletes those merged into their base and
    /// lists the others.
    ///
    /// Examples:
    ///   pk down
    ///   pk down --delete-branches
    ///   pk down --force            # save uncommitted work on a ref, then remove
    #[derive(Debug, Args)]
    #[command(verbatim_doc_comment)]
    pub struct DownArgs {
        #[command(flatten)]
        pub plan: PlanArg,
        /// Remove worktrees with uncommitted or untracked files (saved on a ref first, nested
        /// repositories moved aside).
        #[arg(long)]
        pub force: bool,
        /// Also delete the branches pk created that are merged into their base.
        #[arg(long)]
        pub delete_branches: bool,
    }

    /// Runs `pk down`.
    pub fn run(ctx: &Ctx, args: &DownArgs) -> Result<()> {
        let down = Down {
            plan: args.plan.plan.clone(),
            force: args.force,
            delete_branches: args.delete_branches,
        };
        teardown::down(ctx, &down)
    }
}
mod exec;
mod focus;
mod hook;
mod layout;
mod replay;
// Inline for one commit, so that git sees the move of the old file to its domain module.
mod status {
    //! `pk status`: gather the tracks' status ([`crate::live::status`]) and show it.

    use crate::cli::PlanArg;
    use crate::ctx::Ctx;
    use crate::error::Result;
    use crate::live::status::{StatusJson, collect, print_table};
    use crate::output::outln;
    use crate::session::state::State;
    use crate::session::workspace::Workspace;
    use clap::Args;

    /// Show what every agent does and has cost, with its branch, ports and changes.
    ///
    /// The state is what the agent does: starting, working, waiting (for you), done, error, idle
    /// or exited. `--json` also gives tokens, the transcript read and the worktree.
    ///
    /// Examples:
    ///   pk status
    ///   pk status --json | jq '.tracks[] | select(.state == "waiting") | .name'
    #[derive(Debug, Args)]
    #[command(verbatim_doc_comment)]
    pub struct StatusArgs {
        #[command(flatten)]
        pub plan: PlanArg,
        /// Print one JSON object (design §3) instead of a table.
        #[arg(long)]
        pub json: bool,
    }

    /// Runs `pk status`.
    pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<()> {
        let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
        let state = ws.state()?;
        let report = collect(ctx, &ws, state.as_ref())?;
        if args.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&report).expect("status serializes")
            )?;
        } else {
            print_table(&ws.plan, &report, state.is_some())?;
        }
        if let Some(state) = &state {
            warn_about_the_world(ctx, &ws, state, &report);
        }
        Ok(())
    }

    /// What changed under pk since `pk up`, on stderr (also with `--json`): the session is gone
    /// (its tmux server was stopped, say) or a worktree folder was deleted by hand.
    fn warn_about_the_world(ctx: &Ctx, ws: &Workspace, state: &State, report: &StatusJson) {
        let session = &ws.plan.session.name;
        if report.tracks.iter().all(|t| t.pane.is_none())
            && !ws.mux(ctx, Some(state)).has_session(session)
        {
            ctx.out.warn(&format!(
                "session `{session}` is not running (its {} server or session was stopped): \
                 `pk up` starts it again with the same worktrees, branches and ports",
                state.multiplexer
            ));
        }
        for rec in state.tracks.iter().filter(|r| r.worktree_created) {
            if !rec.worktree.exists() {
                ctx.out.warn(&format!(
                    "the worktree of track `{}` ({}) is gone: `pk up` makes it again from branch \
                     `{}`, `pk down` forgets it",
                    rec.name,
                    rec.worktree.display(),
                    rec.branch
                ));
            }
        }
    }
}
// Inline for one commit, so that git sees the move of the old file to its domain module.
mod up {
    //! `pk up`: provision what is missing (see [`crate::session::provision`]), then attach.

    use crate::cli::PlanArg;
    use crate::ctx::Ctx;
    use crate::error::Result;
    use crate::plan::Multiplexer;
    use crate::session::provision;
    use crate::session::workspace::Workspace;
    use clap::Args;
    use std::io::IsTerminal;

    /// Start the plan: worktrees, branches, ports, env and one tmux session.
    ///
    /// Each track gets a worktree, a branch, a block of ports and its environment; the session
    /// stacks the agents on the left with an editor on the right.
    /// Runs again safely: what exists is kept, running agents are left alone, tracks added to the
    /// plan are added. Attaches to the session unless --detach or stdin is not a terminal.
    ///
    /// The plan's commands (setup, agents, editor, env) run only once you approved them: the
    /// first time, and again whenever they change, pk shows them and asks. Without a terminal it
    /// refuses (exit 3) unless --yes. See `pk approve`.
    ///
    /// Examples:
    ///   pk up                      # ./parallel.toml (or the nearest one above)
    ///   pk up plans/sprint.toml --detach
    ///   pk --socket scratch up     # on a private tmux server
    #[derive(Debug, Args)]
    #[command(verbatim_doc_comment)]
    pub struct UpArgs {
        #[command(flatten)]
        pub plan: PlanArg,
        /// Do not attach to the session.
        #[arg(long, short)]
        pub detach: bool,
        /// Run the session in zellij, whatever the plan's `multiplexer` says.
        #[arg(long, conflicts_with = "tmux")]
        pub zellij: bool,
        /// Run the session in tmux, whatever the plan's `multiplexer` says.
        #[arg(long)]
        pub tmux: bool,
        /// Approve the plan's commands (setup, agents, editor, env) without asking when they are
        /// new or changed. Without a terminal, `pk up` refuses unapproved commands unless given.
        #[arg(long, short)]
        pub yes: bool,
    }

    /// Runs `pk up`.
    pub fn run(ctx: &Ctx, args: &UpArgs) -> Result<()> {
        let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
        let multiplexer = if args.zellij {
            Multiplexer::Zellij
        } else if args.tmux {
            Multiplexer::Tmux
        } else {
            ws.plan.session.multiplexer
        };
        crate::session::approval::ensure(&ctx.out, &ws.plan, args.yes)?;
        let session = provision::up(ctx, &ws, multiplexer)?;
        if !args.detach && std::io::stdin().is_terminal() {
            session.mux.attach(&ws.plan.session.name)?;
        }
        Ok(())
    }
}
// Inline for one commit, so that git sees the move of the old file to its domain module.
// Public only for `watch::TICK`, which the benches still import from here.
pub mod watch {
    //! `pk watch`: find the session's state folder and run the watcher ([`crate::live::watch`]).

    use crate::cli::PlanArg;
    use crate::ctx::Ctx;
    use crate::error::Result;
    use crate::live::watch;
    use crate::session::workspace::Workspace;
    use clap::Args;
    use std::path::PathBuf;

    /// Kept at its old path for the benches (`pk-cli/benches/status.rs`) until they import
    /// `pk_cli::live::watch::TICK`.
    pub use crate::live::watch::TICK;

    /// Keep the tmux status bar up to date with what every agent does.
    ///
    /// Follows every track's transcript and hook events and shows, in the session's status line,
    /// which agent works, waits for you, is done or failed, and what each has cost. A track that
    /// starts waiting, finishes or fails rings the bell and shows a message. Also writes
    /// .git/pk/<session>/status.json, which `pk status` reads.
    ///
    /// `pk up` starts it in the session's pk-watch window (and again if it died); it stops when
    /// the session ends. Only one watcher runs per session.
    ///
    /// Examples:
    ///   pk watch                   # in the foreground, for the plan here
    #[derive(Debug, Args)]
    #[command(verbatim_doc_comment)]
    pub struct WatchArgs {
        #[command(flatten)]
        pub plan: PlanArg,
        /// The session's state folder (`.git/pk/<session>`), instead of finding it from the plan.
        #[arg(long, hide = true, value_name = "DIR")]
        pub state_dir: Option<PathBuf>,
    }

    /// Runs `pk watch`.
    pub fn run(ctx: &Ctx, args: &WatchArgs) -> Result<()> {
        let state_dir = match &args.state_dir {
            Some(dir) => dir.clone(),
            None => Workspace::open(ctx, args.plan.plan.as_deref())?.state_dir,
        };
        watch::watch(ctx, state_dir)
    }
}

pub(crate) use agent_run::AgentRunArgs;
pub(crate) use approve::ApproveArgs;
pub(crate) use check::CheckArgs;
pub(crate) use completions::CompletionsArgs;
pub(crate) use completions::ManArgs;
pub(crate) use demo::DemoArgs;
pub(crate) use down::DownArgs;
pub(crate) use exec::ExecArgs;
pub(crate) use focus::FocusArgs;
pub(crate) use hook::HookArgs;
pub(crate) use layout::LayoutArgs;
pub(crate) use replay::ReplayArgs;
pub(crate) use status::StatusArgs;
pub(crate) use up::UpArgs;
pub(crate) use watch::WatchArgs;

use crate::cli::Command;
use crate::ctx::Ctx;
use crate::error::Result;

/// Runs a subcommand; returns the exit code on success (`pk exec` passes its child's through).
pub fn dispatch(ctx: &Ctx, command: Command) -> Result<u8> {
    match command {
        Command::Up(args) => up::run(ctx, &args).map(|()| 0),
        Command::Down(args) => down::run(ctx, &args).map(|()| 0),
        Command::Status(args) => status::run(ctx, &args).map(|()| 0),
        Command::Check(args) => check::run(ctx, &args).map(|()| 0),
        Command::Approve(args) => approve::run(ctx, &args).map(|()| 0),
        Command::Exec(args) => exec::run(ctx, &args),
        Command::Focus(args) => focus::run(ctx, &args).map(|()| 0),
        Command::Layout(args) => layout::run(ctx, &args).map(|()| 0),
        Command::Watch(args) => watch::run(ctx, &args).map(|()| 0),
        Command::Demo(args) => demo::run(ctx, &args).map(|()| 0),
        Command::Completions(args) => completions::run(&args).map(|()| 0),
        Command::Man(args) => completions::man(&args).map(|()| 0),
        Command::AgentRun(args) => agent_run::run(ctx, &args),
        Command::Replay(args) => replay::run(&args),
        Command::Hook(args) => Ok(hook::run(&args)),
    }
}
