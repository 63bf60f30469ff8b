//! The zellij form of a layout: a KDL layout file with one tab per [`Window`], its agents
//! stacked in a left column, its editor on the right, and pk's status bar plugin as a one-line
//! pane at the bottom of every tab.
//!
//! Built with the `kdl` crate (KDL v1, the version zellij reads), so every name, path and
//! argument is escaped by the library, never by string formatting. zellij layouts cannot give
//! a pane its own environment: every agent pane runs `pk agent-run`, which sets it.
//!
//! There is no global or tab `cwd` on purpose: zellij would give it to the plugin as well, and
//! the plugin's `cwd` must be the session's state folder, where `pk watch` writes
//! `status.json` (its `/host`). Every pane names its own folder instead.

use super::{AgentPane, EditorPane, Window};
use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use std::path::Path;

/// Where the plugin finds the watcher's status, relative to its `/host` (the state folder).
pub(crate) const PLUGIN_STATUS_FILE: &str = "/host/status.json";

/// The status bar pane's plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar<'a> {
    /// The plugin's `.wasm` (absolute).
    pub wasm: &'a Path,
    /// The session's state folder: the plugin's `/host`.
    pub state_dir: &'a Path,
    /// The session, shown at the left of the bar.
    pub session: &'a str,
}

/// The whole layout of a new session.
pub fn session_layout(windows: &[Window], agents_width: u32, bar: &Bar) -> KdlDocument {
    let mut layout = KdlNode::new("layout");
    let body = layout.ensure_children();
    let mut template = KdlNode::new("default_tab_template");
    {
        let t = template.ensure_children();
        t.nodes_mut().push(KdlNode::new("children"));
        t.nodes_mut().push(bar_pane(bar));
    }
    body.nodes_mut().push(template);
    for window in windows {
        body.nodes_mut().push(tab(window, agents_width));
    }
    let mut doc = KdlDocument::new();
    doc.nodes_mut().push(layout);
    doc.fmt();
    doc
}

fn tab(window: &Window, agents_width: u32) -> KdlNode {
    let mut tab = KdlNode::new("tab");
    tab.push(KdlEntry::new_prop("name", window.name.as_str()));
    if window.index == 0 {
        tab.push(KdlEntry::new_prop("focus", true));
    }
    let mut split = KdlNode::new("pane");
    split.push(KdlEntry::new_prop("split_direction", "vertical"));
    let columns = split.ensure_children();
    let mut agents = KdlNode::new("pane");
    if window.editor.is_some() {
        agents.push(KdlEntry::new_prop("size", format!("{agents_width}%")));
    }
    let stack = agents.ensure_children();
    for (i, agent) in window.agents.iter().enumerate() {
        stack.nodes_mut().push(agent_pane(agent, i == 0));
    }
    columns.nodes_mut().push(agents);
    if let Some(editor) = &window.editor {
        columns
            .nodes_mut()
            .push(editor_pane(editor, 100 - agents_width));
    }
    tab.ensure_children().nodes_mut().push(split);
    tab
}

/// What an agent pane's frame shows: track, branch and port (zellij keeps a layout's `name`
/// even when the program sets a title).
pub(crate) fn agent_title(agent: &AgentPane) -> String {
    format!("{} {} :{}", agent.track, agent.branch, agent.port)
}

fn agent_pane(agent: &AgentPane, focus: bool) -> KdlNode {
    let mut pane = command_pane(&agent.argv, &agent.cwd);
    pane.entries_mut()
        .insert(0, KdlEntry::new_prop("name", agent_title(agent)));
    if focus {
        pane.push(KdlEntry::new_prop("focus", true));
    }
    pane
}

fn editor_pane(editor: &EditorPane, width: u32) -> KdlNode {
    let mut pane = command_pane(&editor.argv, &editor.cwd);
    pane.entries_mut()
        .insert(0, KdlEntry::new_prop("name", "editor"));
    pane.entries_mut()
        .insert(0, KdlEntry::new_prop("size", format!("{width}%")));
    pane
}

/// `pane command=… cwd=… { args …; }`. `close_on_exit` stays false (zellij's default): a
/// pane whose program ended stays, with its exit code in the frame, like tmux's
/// `remain-on-exit`.
fn command_pane(argv: &[String], cwd: &Path) -> KdlNode {
    let mut pane = KdlNode::new("pane");
    let (program, args) = argv.split_first().expect("a pane runs a program");
    pane.push(KdlEntry::new_prop("command", program.as_str()));
    pane.push(KdlEntry::new_prop(
        "cwd",
        cwd.to_string_lossy().into_owned(),
    ));
    if !args.is_empty() {
        let mut node = KdlNode::new("args");
        for a in args {
            node.push(KdlEntry::new(KdlValue::String(a.clone())));
        }
        pane.ensure_children().nodes_mut().push(node);
    }
    pane
}

fn bar_pane(bar: &Bar) -> KdlNode {
    let mut pane = KdlNode::new("pane");
    pane.push(KdlEntry::new_prop("size", 1));
    pane.push(KdlEntry::new_prop("borderless", true));
    let mut plugin = KdlNode::new("plugin");
    plugin.push(KdlEntry::new_prop(
        "location",
        format!("file:{}", bar.wasm.to_string_lossy()),
    ));
    let config = plugin.ensure_children();
    for (key, value) in [
        ("cwd", bar.state_dir.to_string_lossy().into_owned()),
        ("status_file", PLUGIN_STATUS_FILE.to_string()),
        ("session", bar.session.to_string()),
    ] {
        let mut node = KdlNode::new(key);
        node.push(KdlEntry::new(value));
        config.nodes_mut().push(node);
    }
    pane.ensure_children().nodes_mut().push(plugin);
    pane
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Shape;
    use crate::layout::tests::agent;

    fn layout(preset: &str, agents: &[AgentPane]) -> String {
        let shape = Shape::preset(preset).unwrap();
        let windows = shape.windows(agents, "vi", Path::new("/r.pk"));
        let bar = Bar {
            wasm: Path::new("/cache/pk-zellij-plugin.wasm"),
            state_dir: Path::new("/r/.git/pk/shop"),
            session: "shop",
        };
        session_layout(&windows, shape.agents_width, &bar).to_string()
    }

    #[test]
    fn agents_left_snapshot() {
        let text = layout("agents-left", &[agent("a", 4100), agent("b", 4110)]);
        let expected = r#"layout {
    default_tab_template {
        children
        pane size=1 borderless=true {
            plugin location="file:/cache/pk-zellij-plugin.wasm" {
                cwd "/r/.git/pk/shop"
                status_file "/host/status.json"
                session "shop"
            }
        }
    }
    tab name="agents" focus=true {
        pane split_direction="vertical" {
            pane size="60%" {
                pane name="a pk/a :4100" command="/bin/pk" cwd="/r.pk/a" focus=true {
                    args "agent-run" "a"
                }
                pane name="b pk/b :4110" command="/bin/pk" cwd="/r.pk/b" {
                    args "agent-run" "b"
                }
            }
            pane size="40%" name="editor" command="sh" cwd="/r.pk" {
                args "-c" "vi \"$1\"" "pk-editor" "/r.pk"
            }
        }
    }
}
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn more_agents_than_fit_go_to_further_tabs() {
        let agents: Vec<_> = (0..9).map(|i| agent(&format!("t{i}"), 4100)).collect();
        let text = layout("agents-left", &agents);
        assert_eq!(text.matches("tab name=").count(), 3);
        assert!(text.contains("tab name=\"agents-3\" {"));
        assert_eq!(
            text.matches("focus=true").count(),
            4,
            "the first tab, and the first agent of each tab"
        );
    }

    #[test]
    fn track_tabs_open_the_editor_on_the_track() {
        let text = layout("track-tabs", &[agent("a", 4100), agent("b", 4110)]);
        assert!(text.contains(r#"args "-c" "vi \"$1\"" "pk-editor" "/r.pk/b""#));
        assert!(text.contains(r#"pane size="50%" name="editor""#));
    }

    #[test]
    fn hostile_names_stay_inside_their_strings() {
        let mut evil = agent("a", 4100);
        evil.cwd = "/r.pk/a\" } pane command=\"rm\" {".into();
        evil.argv.push("x\"; }\n pane {".into());
        let text = layout("agents-left", &[evil.clone()]);
        let doc: KdlDocument = text.parse().expect("the output is valid KDL");
        let pane = &doc.nodes()[0].children().unwrap().nodes()[1]
            .children()
            .unwrap()
            .nodes()[0]
            .children()
            .unwrap()
            .nodes()[0]
            .children()
            .unwrap()
            .nodes()[0];
        assert_eq!(
            pane.get("cwd").unwrap().value().as_string(),
            Some(evil.cwd.to_str().unwrap())
        );
        let args = &pane.children().unwrap().nodes()[0];
        assert_eq!(
            args.entries().last().unwrap().value().as_string(),
            Some("x\"; }\n pane {")
        );
    }
}
