//! The zellij bar's status file (`status.json`), whatever it holds: the bar it draws carries
//! no control characters but its own colours.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(snapshot) = pk_status::StatusFile::parse(data) {
        pk_fuzz::check_zellij_bar(&snapshot);
        let tracks: Vec<(&str, &pk_status::TrackStatus)> = snapshot
            .tracks
            .iter()
            .map(|t| (t.name.as_str(), &t.status))
            .collect();
        for width in [0, 20, 80] {
            let line = pk_status::render::tmux(&tracks, width);
            pk_fuzz::assert_inert("the tmux status line", &line);
            pk_fuzz::assert_tmux_literal(&line);
        }
    }
});
