//! pk's status bar for zellij: one line with each track's state mark, name and cost, then the
//! total; waiting tracks in black on yellow.
//!
//! zellij runs plugins in an interpreter (wasmi since 0.44), so this plugin parses no
//! transcripts: `pk watch` does that natively and writes `status.json` into the session's
//! state folder, which the layout makes this plugin's `/host`. The plugin reads that small file
//! on a timer and redraws when it changed. It needs no permission for that; only a click on a
//! track (to focus its pane) asks, once, for `ChangeApplicationState`.
//!
//! Everything but the calls into zellij lives in `pk_status::bar`, tested on the host.

#[cfg(target_family = "wasm")]
mod plugin {
    use pk_status::StatusFile;
    use pk_status::bar::{self, Line};
    use std::collections::BTreeMap;
    use zellij_tile::prelude::*;

    /// How often the status file is looked at, in seconds.
    const INTERVAL: f64 = 0.25;

    #[derive(Default)]
    pub struct Bar {
        status_file: String,
        session: String,
        raw: Vec<u8>,
        snapshot: Option<StatusFile>,
        line: Option<Line>,
        /// `Some(true)` once focusing panes was allowed, `Some(false)` when refused.
        may_focus: Option<bool>,
        /// A track clicked before the permission was answered.
        pending_focus: Option<usize>,
    }

    impl ZellijPlugin for Bar {
        fn load(&mut self, config: BTreeMap<String, String>) {
            self.status_file = config
                .get("status_file")
                .cloned()
                .unwrap_or_else(|| "/host/status.json".into());
            self.session = config.get("session").cloned().unwrap_or_default();
            subscribe(&[
                EventType::Timer,
                EventType::Mouse,
                EventType::PermissionRequestResult,
            ]);
            set_selectable(false);
            self.read();
            set_timeout(INTERVAL);
        }

        fn update(&mut self, event: Event) -> bool {
            match event {
                Event::Timer(_) => {
                    set_timeout(INTERVAL);
                    self.read()
                }
                Event::Mouse(Mouse::LeftClick(_, col)) => {
                    let track = self.line.as_ref().and_then(|l| l.track_at(col));
                    if let Some(track) = track {
                        self.focus(track);
                    }
                    false
                }
                Event::PermissionRequestResult(status) => {
                    self.may_focus = Some(status == PermissionStatus::Granted);
                    set_selectable(false);
                    if let Some(track) = self.pending_focus.take() {
                        self.focus(track);
                    }
                    true
                }
                _ => false,
            }
        }

        fn render(&mut self, _rows: usize, cols: usize) {
            let line = bar::line(self.snapshot.as_ref(), &self.session, cols);
            print!("{}", line.ansi);
            self.line = Some(line);
        }
    }

    impl Bar {
        /// Reads the status file; true when what it says changed.
        fn read(&mut self) -> bool {
            let Ok(raw) = std::fs::read(&self.status_file) else {
                return false;
            };
            if raw == self.raw {
                return false;
            }
            // A file caught mid-write cannot happen (the watcher renames a complete file into
            // place), but a file of another version can: keep the last good snapshot.
            let Some(snapshot) = StatusFile::parse(&raw) else {
                return false;
            };
            self.raw = raw;
            self.snapshot = Some(snapshot);
            true
        }

        /// Focuses the agent pane of track `index`, asking for the permission first.
        fn focus(&mut self, index: usize) {
            let Some(pane) = self.snapshot.as_ref().and_then(|s| s.pane_id(index)) else {
                return;
            };
            match self.may_focus {
                Some(true) => focus_terminal_pane(pane, false, false),
                Some(false) => {}
                None => {
                    self.pending_focus = Some(index);
                    // zellij shows the question in this pane: it must take keys to be
                    // answered.
                    set_selectable(true);
                    request_permission(&[PermissionType::ChangeApplicationState]);
                }
            }
        }
    }
}

// The macro expands to code that names the prelude's items unqualified.
#[cfg(target_family = "wasm")]
use zellij_tile::prelude::*;
#[cfg(target_family = "wasm")]
register_plugin!(plugin::Bar);

/// On the host there is nothing to run: the plugin is built with
/// `cargo build -p pk-zellij-plugin --target wasm32-wasip1 --release` (scripts/build-plugin.sh).
#[cfg(not(target_family = "wasm"))]
fn main() {
    eprintln!("pk-zellij-plugin runs inside zellij; build it for wasm32-wasip1");
    std::process::exit(2);
}
