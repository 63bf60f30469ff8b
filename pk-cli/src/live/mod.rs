//! Reading the tracks' transcripts and event files as they grow, and the status file the watcher
//! writes (`.git/pk/<session>/status.json`).
//!
//! The parsing itself is pk-status's ([`Tracker`], [`FileCursor`]): this module does the I/O it
//! leaves out. A [`Follower`] reads only the bytes appended to one file since its last look; a
//! [`TrackFeed`] follows both files of a track, finds a transcript that appears later (or
//! changes, after Claude's `/clear`) and combines the two into one [`TrackStatus`]. `pk watch`
//! keeps them alive and reads on every change ([`refresh_all`]: long backlogs, as on its first
//! look at big transcripts, on several threads); `pk status`, when no watcher runs, reads each
//! file once.
//!
//! Neither reads a transcript twice: the watcher saves each feed's state now and then in a
//! checkpoint (`.git/pk/<session>/checkpoints/<track>.json`: the trackers at a line boundary,
//! where each file was read to, and a hash of the bytes just before), and a restarted watcher or
//! a `pk status` without one resumes from it, reading only what the files gained since. A file
//! that is not the one the checkpoint read (another inode, shorter, other bytes before the
//! offset) is read from its start.

mod checkpoint;
pub(crate) mod checks;
pub(crate) mod conversation;
pub(crate) mod dirt;
mod feed;
mod follower;
pub(crate) mod notify;
pub(crate) mod remote;
pub mod render;
pub(crate) mod status;
pub(crate) mod status_file;
pub mod watch;

/// The conflict forecast, for the bench (its home is the session's domain).
pub use crate::session::forecast::{Forecaster, TrackInput, Work};
pub use checkpoint::{CHECKPOINT_DIR, checkpoint_path};
pub(crate) use feed::refresh_all;
pub use feed::{TrackFeed, each_in_parallel};
pub use follower::Follower;
pub(crate) use status_file::wait_until_read;
pub use status_file::{STATUS_FILE, StatusFile, TrackEntry};

/// At its old path for the benches; the clock is [`crate::util::clock::now_ms`].
pub use crate::util::clock::now_ms;

#[cfg(test)]
mod tests {
    use super::checkpoint::*;
    use super::feed::*;
    use super::follower::*;
    use super::status_file::*;

    use crate::session::state::{Launch, TrackRecord};
    use crate::session::transcript::Source;
    use pk_status::TrackState;
    use pk_status::{Format, Timestamp, TrackStatus};
    use std::io::Write;
    use std::path::{Path, PathBuf};

    fn record(source: Option<Source>, events: &Path) -> TrackRecord {
        TrackRecord {
            name: "api".into(),
            branch: "pk/api".into(),
            base: "main".into(),
            branch_created: true,
            worktree: "/w".into(),
            worktree_created: true,
            worktree_ready: true,
            worktree_removing: false,
            port_block: 4100,
            port_count: 10,
            ports: vec![],
            copied: vec![],
            pane: None,
            launch: Launch::default(),
            transcript: source,
            events: Some(events.to_path_buf()),
            agent_started_ms: None,
            budget_usd: None,
            owns: vec![],
            resumed: None,
            finished_before: false,
            host: None,
        }
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follower_reads_only_appended_bytes_and_restarts_on_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut f = Follower::new(path.clone(), Format::CodexExec);
        assert!(!f.poll(1), "missing file");
        append(&path, "{\"type\":\"turn.started\"}\n{\"type\":\"turn.comp");
        assert!(f.poll(1));
        assert_eq!(f.status().state, TrackState::Working);
        assert!(!f.poll(2), "nothing new");
        append(&path, "leted\",\"usage\":{\"output_tokens\":5}}\n");
        assert!(f.poll(3));
        assert_eq!(f.status().state, TrackState::Done);
        assert_eq!(f.status().tokens.output, 5);
        assert_eq!(f.cursor().offset, std::fs::metadata(&path).unwrap().len());
        std::fs::write(&path, "{\"type\":\"turn.started\"}\n").unwrap();
        assert!(f.poll(4));
        assert_eq!(f.status().state, TrackState::Working);
        assert_eq!(f.status().tokens.output, 0);
    }

    #[test]
    fn every_item_is_worked_on_once_in_parallel_or_not() {
        for backlog in [0, PARALLEL_FROM] {
            let mut items: Vec<(u64, u32)> = (0..9).map(|i| (i, 0)).collect();
            each_in_parallel(&mut items, |_| backlog, |item| item.1 += 1);
            assert!(items.iter().all(|(_, n)| *n == 1), "{items:?}");
        }
    }

    #[test]
    fn refresh_all_reads_every_track() {
        let dir = tempfile::tempdir().unwrap();
        let mut feeds: Vec<TrackFeed> = (0..3)
            .map(|i| {
                let tr = dir.path().join(format!("t{i}.jsonl"));
                append(&tr, "{\"type\":\"turn.started\"}\n");
                let mut rec = record(
                    Some(Source::File {
                        path: tr,
                        format: Format::CodexExec,
                    }),
                    &dir.path().join(format!("e{i}")),
                );
                rec.name = format!("t{i}");
                TrackFeed::new(&rec, dir.path())
            })
            .collect();
        refresh_all(&mut feeds, 1);
        for f in &feeds {
            assert_eq!(f.status().state, TrackState::Working, "{}", f.name());
            assert_eq!(f.backlog(), 0);
        }
    }

    /// `codex exec --json` names no model: the command line or CODEX_HOME's config does, else
    /// the thread's rollout; until then its tokens count and its cost is unknown.
    #[test]
    fn codex_exec_is_priced_with_the_model_codex_runs() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("codex");
        let tr = dir.path().join("t.ndjson");
        let now = 1_772_442_845_000; // 2026-03-02
        let mut rec = record(
            Some(Source::File {
                path: tr.clone(),
                format: Format::CodexExec,
            }),
            &dir.path().join("events.ndjson"),
        );
        rec.launch.env = vec![("CODEX_HOME".into(), home.display().to_string())];
        rec.launch.argv = vec!["codex".into(), "exec".into(), "--json".into(), "go".into()];
        append(
            &tr,
            "{\"type\":\"thread.started\",\"thread_id\":\"01a2-th\"}\n{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":0,\"output_tokens\":1000000}}\n",
        );
        let mut feed = TrackFeed::new(&rec, dir.path());
        feed.refresh(now);
        assert!(feed.status().unpriced);
        assert_eq!(feed.status().cost_usd, 0.0);
        // The rollout, once there, names it (read again with the next lines).
        let day = home.join("sessions/2026/03/02");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::write(
            day.join("rollout-2026-03-02T09-14-05-01a2-th.jsonl"),
            "{\"type\":\"turn_context\",\"payload\":{\"model\":\"gpt-5-mini\"}}\n",
        )
        .unwrap();
        append(&tr, "{\"type\":\"turn.started\"}\n");
        feed.refresh(now);
        assert!(!feed.status().unpriced);
        assert_eq!(feed.status().cost_usd, 2.0);
        // `-m` on the command line wins.
        rec.launch.argv = vec!["codex".into(), "exec".into(), "-m".into(), "gpt-5".into()];
        let mut feed = TrackFeed::new(&rec, dir.path());
        feed.refresh(now);
        assert_eq!(feed.status().cost_usd, 10.0);
        assert_eq!(feed.status().model.as_deref(), Some("gpt-5"));
    }

    #[test]
    fn feed_combines_transcript_and_events() {
        let dir = tempfile::tempdir().unwrap();
        let tr = dir.path().join("t.ndjson");
        let ev = dir.path().join("events.ndjson");
        let mut feed = TrackFeed::new(
            &record(
                Some(Source::File {
                    path: tr.clone(),
                    format: Format::ClaudeStream,
                }),
                &ev,
            ),
            dir.path(),
        );
        assert!(!feed.refresh(1) || feed.status().state == TrackState::Starting);
        append(&tr, "{\"type\":\"system\",\"subtype\":\"init\"}\n");
        assert!(feed.refresh(1_000));
        assert_eq!(feed.status().state, TrackState::Working);
        append(
            &ev,
            "{\"hook_event_name\":\"PermissionRequest\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\"},\"timestamp\":\"1970-01-01T00:00:02Z\"}\n",
        );
        assert!(feed.refresh(2_100));
        assert_eq!(feed.status().state, TrackState::Waiting);
        append(
            &tr,
            "{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":0.5}\n",
        );
        feed.refresh(3_000);
        let s = feed.status();
        assert_eq!((s.state, s.cost_usd), (TrackState::Done, 0.5));
        assert!(
            feed.watch_dirs(0).contains(&dir.path().to_path_buf()),
            "{:?}",
            feed.watch_dirs(0)
        );
    }

    #[test]
    fn claude_sessions_follow_the_hooks_and_carry_the_cost_over() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("projects/-w");
        std::fs::create_dir_all(&project).unwrap();
        let ev = dir.path().join("events.ndjson");
        let mut feed = TrackFeed::new(
            &record(
                Some(Source::ClaudeProject {
                    dir: project.clone(),
                }),
                &ev,
            ),
            dir.path(),
        );
        feed.refresh(0);
        assert!(feed.transcript().is_none());
        let usage = |id: &str, t: &str| {
            format!(
                "{{\"type\":\"assistant\",\"timestamp\":\"{t}\",\"requestId\":\"r{id}\",\"message\":{{\"id\":\"{id}\",\"model\":\"claude-sonnet-4-5\",\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"hi\"}}],\"usage\":{{\"input_tokens\":0,\"output_tokens\":1000000}}}}}}\n"
            )
        };
        // Found in the folder before any hook fired.
        let first = project.join("s1.jsonl");
        append(&first, &usage("m1", "2026-03-02T09:00:00Z"));
        feed.refresh(1);
        assert_eq!(feed.transcript().unwrap().path(), first);
        let one = feed.status().cost_usd;
        assert!(one > 0.0);
        // /clear: the hooks name the new session's file.
        let second = dir.path().join("elsewhere/s2.jsonl");
        std::fs::create_dir_all(second.parent().unwrap()).unwrap();
        append(&second, &usage("m2", "2026-03-02T09:01:00Z"));
        append(
            &ev,
            &format!(
                "{{\"hook_event_name\":\"SessionStart\",\"source\":\"clear\",\"transcript_path\":\"{}\"}}\n",
                second.display()
            ),
        );
        feed.refresh(2);
        assert_eq!(feed.transcript().unwrap().path(), second);
        assert!((feed.status().cost_usd - 2.0 * one).abs() < 1e-9);
        assert!(!feed.status().cost_is_reported);
    }

    #[test]
    fn status_file_round_trips_and_never_makes_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let feed = TrackFeed::new(&record(None, &dir.path().join("e")), dir.path());
        let file = StatusFile {
            version: pk_status::status_file::VERSION,
            session: "shop".into(),
            updated: Timestamp(5),
            pid: 1,
            total_cost_usd: 0.0,
            tracks: vec![super::status_file::entry(
                &feed,
                TrackStatus::default(),
                None,
            )],
        };
        super::status_file::save(&file, dir.path()).unwrap();
        assert_eq!(super::status_file::load(dir.path()), Some(file.clone()));
        let gone = dir.path().join("gone");
        assert!(super::status_file::save(&file, &gone).is_err());
        assert!(!gone.exists());
    }

    /// A Claude stream transcript with one response per line, `n` of them from `first`.
    fn responses(first: usize, n: usize) -> String {
        (first..first + n)
            .map(|i| {
                format!(
                    "{{\"type\":\"assistant\",\"message\":{{\"id\":\"m{i}\",\"model\":\"claude-sonnet-4-5\",\"content\":[{{\"type\":\"tool_use\",\"id\":\"t{i}\",\"name\":\"Bash\",\"input\":{{\"command\":\"step {i}\"}}}}],\"usage\":{{\"input_tokens\":10,\"output_tokens\":{i}}}}}}}\n"
                )
            })
            .collect()
    }

    /// A track reading a Claude stream, in a state folder `dir` (with a state file: a session
    /// that is up).
    fn stream_feed(dir: &Path) -> (TrackRecord, PathBuf, PathBuf) {
        std::fs::write(dir.join(crate::session::state::STATE_FILE), "{}").unwrap();
        let tr = dir.join("t.ndjson");
        let ev = dir.join("events.ndjson");
        let mut rec = record(
            Some(Source::File {
                path: tr.clone(),
                format: Format::ClaudeStream,
            }),
            &ev,
        );
        rec.agent_started_ms = Some(1);
        (rec, tr, ev)
    }

    /// What a feed that reads both files whole makes of them.
    fn read_whole(rec: &TrackRecord, dir: &Path) -> TrackStatus {
        let mut feed = TrackFeed::new(rec, dir);
        feed.refresh(9);
        feed.status()
    }

    #[test]
    fn a_resumed_feed_reads_only_what_came_since_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, tr, ev) = stream_feed(dir.path());
        append(&tr, &responses(0, 300));
        // A torn last line: the checkpoint stops before it.
        let torn_at = std::fs::metadata(&tr).unwrap().len();
        append(&tr, "{\"type\":\"assistant\",\"mess");
        append(&ev, "{\"hook_event_name\":\"UserPromptSubmit\"}\n");
        let mut feed = TrackFeed::resume(&rec, dir.path());
        feed.refresh(9);
        assert!(feed.save(dir.path()).unwrap());
        assert!(
            !feed.save(dir.path()).unwrap(),
            "nothing new: not written again"
        );
        append(&tr, "age\":{\"id\":\"x\"}}\n");
        append(&tr, &responses(300, 2));

        let mut again = TrackFeed::resume(&rec, dir.path());
        assert_eq!(again.status().turns, 300, "the checkpoint's status");
        again.refresh(9);
        let len = std::fs::metadata(&tr).unwrap().len();
        assert_eq!(
            again.transcript().unwrap().last_read(),
            Some((torn_at, len))
        );
        assert_eq!(again.events().last_read(), None, "no new events");
        assert_eq!(again.status(), read_whole(&rec, dir.path()));
        assert_eq!(again.status().turns, 302);
        assert_eq!(again.status().last_tool.as_deref(), Some("Bash step 301"));
    }

    #[test]
    fn a_checkpoint_of_other_files_or_content_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, tr, _) = stream_feed(dir.path());
        append(&tr, &responses(0, 50));
        let mut feed = TrackFeed::resume(&rec, dir.path());
        feed.refresh(9);
        feed.save(dir.path()).unwrap();
        let resumed_from = |rec: &TrackRecord| {
            let mut f = TrackFeed::resume(rec, dir.path());
            f.refresh(9);
            let from = f.transcript().unwrap().last_read().map(|r| r.0);
            assert_eq!(f.status(), read_whole(rec, dir.path()));
            from
        };
        append(&tr, &responses(50, 1));
        assert!(resumed_from(&rec) > Some(0));

        // Another agent run of the track: its files are not the checkpoint's.
        let mut restarted = rec.clone();
        restarted.agent_started_ms = Some(2);
        assert_eq!(resumed_from(&restarted), Some(0));

        // The same file, rewritten in place (same inode, longer): other bytes before the
        // checkpoint's offset.
        let text = std::fs::read_to_string(&tr)
            .unwrap()
            .replace("step 4", "step X");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&tr)
            .unwrap()
            .write_all(format!("{text}{}", responses(60, 1)).as_bytes())
            .unwrap();
        assert_eq!(resumed_from(&rec), Some(0));

        // Replaced by another file with the same bytes and more (renamed over it while the old
        // one is still open, so the inode differs): only the inode tells.
        feed.refresh(9);
        feed.save(dir.path()).unwrap();
        let _old = std::fs::File::open(&tr).unwrap();
        let copy = dir.path().join("copy.ndjson");
        std::fs::copy(&tr, &copy).unwrap();
        append(&copy, &responses(70, 1));
        std::fs::rename(&copy, &tr).unwrap();
        assert_eq!(resumed_from(&rec), Some(0));
        // A damaged checkpoint.
        std::fs::write(checkpoint_path(dir.path(), "api"), "{\"version\":1,").unwrap();
        assert_eq!(resumed_from(&rec), Some(0));
    }

    #[test]
    fn an_unfinished_last_line_is_read_again_but_not_saved_again() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, tr, _) = stream_feed(dir.path());
        append(&tr, &responses(0, 3));
        append(
            &tr,
            "{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":0.5}",
        );
        let mut feed = TrackFeed::resume(&rec, dir.path());
        feed.refresh(9);
        assert!(feed.save(dir.path()).unwrap());
        let mut again = TrackFeed::resume(&rec, dir.path());
        again.refresh(9);
        assert!(
            again.transcript().unwrap().last_read().is_some(),
            "the tail, again"
        );
        assert!(!again.save(dir.path()).unwrap(), "no progress: not written");
        // The agent died: the tail is a complete line, and the same whichever way it was read.
        again.finish(9);
        feed.finish(9);
        assert_eq!(again.status().cost_usd, 0.5);
        assert_eq!(again.status(), feed.status());
    }

    #[test]
    fn a_checkpoint_never_makes_the_state_folder_again() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, tr, _) = stream_feed(dir.path());
        append(&tr, &responses(0, 1));
        let gone = dir.path().join("gone");
        let mut feed = TrackFeed::resume(&rec, &gone);
        feed.refresh(9);
        assert!(!feed.save(&gone).unwrap());
        assert!(!gone.exists());
        // Torn down while the checkpoint was written: the folder is left empty.
        std::fs::remove_file(dir.path().join(crate::session::state::STATE_FILE)).unwrap();
        assert!(!feed.save(dir.path()).unwrap());
        assert!(!dir.path().join(CHECKPOINT_DIR).exists());
    }
}
