//! The tmux form of a layout: one window per [`Window`], its agents stacked in a left column,
//! its editor on the right, full height.
//!
//! Pure: the functions here only build [`Cmd`] lists (snapshot-tested below); `pk up` runs them,
//! the whole new session in one tmux call.

use super::{AgentPane, EditorPane, Window};
use crate::sys::tmux::{Cmd, exact};

/// Size of a detached session before a client attaches (tmux scales the layout on attach).
pub(crate) const DETACHED_SIZE: (u32, u32) = (200, 50);

/// The window target `=session:=window`: exact names, never prefixes or patterns.
pub(crate) fn window_target(session: &str, window: &str) -> String {
    format!("{}:={window}", exact(session))
}

/// What the pane border shows: the track, branch and port from pane options, so an agent that
/// retitles its pane cannot hide them; `[exited N]` once the agent's process ends.
pub(crate) const PANE_BORDER_FORMAT: &str = " #{?#{@pk_track},#[bold]#{@pk_track}#[nobold] #{@pk_branch} :#{@pk_port},#{?#{@pk_role},#{@pk_role},#{pane_title}}}#{?pane_dead, #[reverse] exited #{pane_dead_status} #[noreverse],} ";

fn label(target: &str, agent: &AgentPane) -> Vec<Cmd> {
    vec![
        Cmd::new("set-option")
            .flag("-p")
            .opt("-t", target)
            .arg("@pk_track")
            .arg(&agent.track),
        Cmd::new("set-option")
            .flag("-p")
            .opt("-t", target)
            .arg("@pk_branch")
            .arg(&agent.branch),
        Cmd::new("set-option")
            .flag("-p")
            .opt("-t", target)
            .arg("@pk_port")
            .arg(agent.port.to_string()),
        Cmd::new("set-option")
            .flag("-p")
            .opt("-t", target)
            .arg("@pk_role")
            .arg("agent"),
    ]
}

fn window_options(target: &str) -> Vec<Cmd> {
    [
        ("pane-border-status", "top"),
        ("pane-border-format", PANE_BORDER_FORMAT),
        ("remain-on-exit", "on"),
    ]
    .into_iter()
    .map(|(k, v)| {
        Cmd::new("set-option")
            .flag("-w")
            .opt("-t", target)
            .arg(k)
            .arg(v)
    })
    .collect()
}

/// The percentage of the target pane that a new pane below it takes so that, once `total`
/// agents are stacked by splitting the last one each time, all have the same height. Splitting
/// the `k`-th (0-based) pane: the new pane takes `(total-k-1)/(total-k)` of it.
pub(crate) fn split_percent(k: usize, total: usize) -> u32 {
    let rest = (total - k) as u32;
    (100 * (rest - 1)).div_ceil(rest)
}

/// The commands that fill one window whose first agent pane already exists and is the active
/// pane: the other agents below it, then the editor on the right, focus back on the first agent.
fn fill_window(target: &str, window: &Window, agents_width: u32) -> Vec<Cmd> {
    let agents = &window.agents;
    let mut cmds = Vec::new();
    cmds.extend(window_options(target));
    cmds.extend(label(target, &agents[0]));
    for (k, agent) in agents.iter().enumerate().skip(1) {
        // The previous agent is the active pane: split it.
        cmds.push(
            Cmd::new("split-window")
                .flag("-v")
                .opt("-l", format!("{}%", split_percent(k - 1, agents.len())))
                .opt("-t", target)
                .start_dir(&agent.cwd)
                .args(&agent.argv),
        );
        cmds.extend(label(target, agent));
    }
    if let Some(editor) = &window.editor {
        cmds.extend(add_editor(target, editor, agents_width));
    }
    cmds.push(Cmd::new("select-pane").opt("-t", format!("{target}.{{top-left}}")));
    cmds
}

/// The editor on the right of a window, full height.
fn add_editor(target: &str, editor: &EditorPane, agents_width: u32) -> Vec<Cmd> {
    vec![
        Cmd::new("split-window")
            .flag("-h")
            .flag("-f")
            .opt("-l", format!("{}%", 100 - agents_width))
            .opt("-t", target)
            .start_dir(&editor.cwd)
            .args(&editor.argv),
        Cmd::new("set-option")
            .flag("-p")
            .opt("-t", target)
            .arg("@pk_role")
            .arg("editor"),
    ]
}

/// A new session with every window: one tmux call.
pub fn new_session(session: &str, windows: &[Window], agents_width: u32) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for window in windows {
        cmds.extend(new_window(session, window, agents_width));
    }
    if let Some(first) = windows.first() {
        cmds.push(Cmd::new("select-window").opt("-t", window_target(session, &first.name)));
    }
    cmds
}

/// A window (the session's first window when its index is 0: the session does not exist
/// yet).
pub(crate) fn new_window(session: &str, window: &Window, agents_width: u32) -> Vec<Cmd> {
    let name = &window.name;
    let target = window_target(session, name);
    let first = &window.agents[0];
    let mut cmds = Vec::new();
    if window.index == 0 {
        let (w, h) = DETACHED_SIZE;
        cmds.push(
            Cmd::new("new-session")
                .flag("-d")
                .opt("-s", session)
                .opt("-n", name)
                .opt("-x", w.to_string())
                .opt("-y", h.to_string())
                .start_dir(&first.cwd)
                .args(&first.argv),
        );
        cmds.extend(session_options(session));
    } else {
        cmds.push(
            Cmd::new("new-window")
                .flag("-d")
                .opt("-t", format!("{}:", exact(session)))
                .opt("-n", name)
                .start_dir(&first.cwd)
                .args(&first.argv),
        );
    }
    cmds.extend(fill_window(&target, window, agents_width));
    cmds
}

/// The left of the status line. Session names are `[A-Za-z0-9_-]+`: nothing to escape.
pub(crate) fn status_left(session: &str) -> String {
    format!("[pk {session}] ")
}

/// Session-wide options: what the status line says until `pk watch` takes it over.
fn session_options(session: &str) -> Vec<Cmd> {
    // `set-option -t` takes a pane target: `=shop:` names the session, `=shop` alone does not.
    let target = format!("{}:", exact(session));
    vec![
        Cmd::new("set-option")
            .opt("-t", &target)
            .arg("status-left")
            .arg(status_left(session)),
        Cmd::new("set-option")
            .opt("-t", &target)
            .arg("status-left-length")
            .arg("40"),
    ]
}

/// What `pk watch` pushes: the rendered tracks (a tmux format whose text is escaped, see
/// `pk_status::render::tmux`) on the right of the status line, `width` columns wide. tmux
/// redraws the status line of every client as soon as the option changes.
pub(crate) fn status_right(session: &str, line: &str, width: usize) -> Vec<Cmd> {
    let target = format!("{}:", exact(session));
    vec![
        Cmd::new("set-option")
            .opt("-t", &target)
            .arg("status-right-length")
            .arg(width.to_string()),
        Cmd::new("set-option")
            .opt("-t", &target)
            .arg("status-right")
            .arg(line),
    ]
}

/// The window of the status watcher (`pk watch`). tmux has no hidden windows; a window of its
/// own (rather than `run-shell -b`) lets `pk up` see whether the watcher still runs, keeps its
/// last words when it dies, and lets a user look at its log.
pub(crate) const WATCH_WINDOW: &str = "pk-watch";

/// `@pk_role` of the watcher's pane.
pub(crate) const WATCH_ROLE: &str = "watch";

/// The watcher's window, made in the background after the others.
pub(crate) fn watch_window(session: &str, cwd: &std::path::Path, argv: &[String]) -> Vec<Cmd> {
    let target = window_target(session, WATCH_WINDOW);
    vec![
        Cmd::new("new-window")
            .flag("-d")
            .opt("-t", format!("{}:", exact(session)))
            .opt("-n", WATCH_WINDOW)
            .start_dir(cwd)
            .args(argv),
        Cmd::new("set-option")
            .flag("-p")
            .opt("-t", &target)
            .arg("@pk_role")
            .arg(WATCH_ROLE),
        Cmd::new("set-option")
            .flag("-w")
            .opt("-t", &target)
            .arg("remain-on-exit")
            .arg("on"),
    ]
}

/// One more agent below `below` (a pane id) in an existing window.
pub(crate) fn add_agent(session: &str, window: &str, below: &str, agent: &AgentPane) -> Vec<Cmd> {
    let target = window_target(session, window);
    let mut cmds = vec![
        Cmd::new("split-window")
            .flag("-v")
            .opt("-t", below)
            .start_dir(&agent.cwd)
            .args(&agent.argv),
    ];
    cmds.extend(label(&target, agent));
    cmds
}

/// Gives the agent panes `ids` of one window the same height again (after adding one).
pub(crate) fn even_heights(ids: &[String], window_height: u32) -> Vec<Cmd> {
    if ids.is_empty() {
        return Vec::new();
    }
    // n panes share the height minus the n-1 separator rows (one border line each).
    let n = ids.len() as u32;
    let each = (window_height.saturating_sub(n - 1) / n).max(1);
    ids.iter()
        .take(ids.len() - 1)
        .map(|id| {
            Cmd::new("resize-pane")
                .opt("-t", id)
                .opt("-y", each.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Shape;
    use crate::layout::tests::agent;
    use std::path::Path;

    fn session(preset: &str, agents: &[AgentPane]) -> Vec<Cmd> {
        let shape = Shape::preset(preset).unwrap();
        let windows = shape.windows(agents, "vi", Path::new("/r.pk"));
        new_session("shop", &windows, shape.agents_width)
    }

    fn render(cmds: &[Cmd]) -> String {
        cmds.iter()
            .map(|c| c.argv().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn splits_give_equal_heights() {
        assert_eq!(split_percent(0, 2), 50);
        assert_eq!(split_percent(0, 3), 67);
        assert_eq!(split_percent(1, 3), 50);
        assert_eq!(split_percent(0, 4), 75);
        assert_eq!(split_percent(2, 4), 50);
    }

    #[test]
    fn three_agents_one_window() {
        let cmds = session(
            "agents-left",
            &[agent("a", 4100), agent("b", 4110), agent("c", 4120)],
        );
        let text = render(&cmds);
        let splits: Vec<_> = text
            .lines()
            .filter(|l| l.starts_with("split-window"))
            .collect();
        assert_eq!(
            splits,
            [
                "split-window -v -l 67% -t =shop:=agents -c /r.pk/b /bin/pk agent-run b",
                "split-window -v -l 50% -t =shop:=agents -c /r.pk/c /bin/pk agent-run c",
                "split-window -h -f -l 40% -t =shop:=agents -c /r.pk sh -c vi \"$1\" pk-editor /r.pk",
            ]
        );
        assert!(text.starts_with(
            "new-session -d -s shop -n agents -x 200 -y 50 -c /r.pk/a /bin/pk agent-run a"
        ));
        assert!(!text.contains("new-window"));
    }

    #[test]
    fn nine_agents_take_three_windows_of_the_same_shape() {
        let agents: Vec<_> = (0..9)
            .map(|i| agent(&format!("t{i}"), 4100 + i * 10))
            .collect();
        let text = render(&session("agents-left", &agents));
        assert_eq!(text.matches("new-window").count(), 2);
        assert!(text.contains("new-window -d -t =shop: -n agents-2 -c /r.pk/t4"));
        assert!(text.contains("new-window -d -t =shop: -n agents-3 -c /r.pk/t8"));
        // Every window gets an editor on the right.
        assert_eq!(text.matches("split-window -h -f").count(), 3);
        assert!(text.ends_with("select-window -t =shop:=agents"));
    }

    #[test]
    fn track_tabs_give_each_track_a_window_with_its_own_editor() {
        let text = render(&session(
            "track-tabs",
            &[agent("a", 4100), agent("b", 4110)],
        ));
        assert!(
            text.contains("new-window -d -t =shop: -n agents-2 -c /r.pk/b /bin/pk agent-run b")
        );
        assert!(text.contains(
            "split-window -h -f -l 50% -t =shop:=agents-2 -c /r.pk/b sh -c vi \"$1\" pk-editor /r.pk/b"
        ));
        assert!(!text.contains("split-window -v"));
    }

    #[test]
    fn watcher_window_is_marked_and_kept_when_it_dies() {
        let argv = vec!["/bin/pk".to_string(), "watch".into()];
        let text = render(&watch_window("shop", std::path::Path::new("/r"), &argv));
        assert_eq!(
            text,
            "new-window -d -t =shop: -n pk-watch -c /r /bin/pk watch\n\
             set-option -p -t =shop:=pk-watch @pk_role watch\n\
             set-option -w -t =shop:=pk-watch remain-on-exit on"
        );
    }

    #[test]
    fn even_heights_leave_the_last_pane_the_rest() {
        let ids = vec!["%1".to_string(), "%2".into(), "%3".into()];
        let text = render(&even_heights(&ids, 50));
        assert_eq!(text, "resize-pane -t %1 -y 16\nresize-pane -t %2 -y 16");
    }
}
