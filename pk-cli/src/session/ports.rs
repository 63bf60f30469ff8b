//! Port blocks: each track owns `per_track` consecutive ports that no other track has, on this
//! machine, across every pk session, and that were free when handed out.
//!
//! Blocks are recorded in a machine-wide registry (`$XDG_STATE_HOME/pk/ports.json`, default
//! `~/.local/state/pk/ports.json`, under a lock) so that two repositories' plans with the same
//! `[ports] base` never collide, even while one session's dev servers are not running. A block
//! stays with its track across `pk up` runs and is released by `pk down`. Entries whose session
//! state is gone (a repository deleted by hand) are reclaimed.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener};
use std::path::{Path, PathBuf};

/// One block in the registry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Block {
    /// First port.
    pub start: u16,
    /// Number of ports.
    pub len: u16,
    /// The session's state folder (`.git/pk/<session>`), to reclaim blocks of vanished sessions.
    pub state_dir: PathBuf,
    /// The track.
    pub track: String,
}

impl Block {
    fn end(&self) -> u32 {
        u32::from(self.start) + u32::from(self.len)
    }

    fn overlaps(&self, start: u16, len: u16) -> bool {
        u32::from(start) < self.end() && u32::from(self.start) < u32::from(start) + u32::from(len)
    }
}

/// The machine-wide registry file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Registry {
    blocks: Vec<Block>,
}

/// Where the registry lives.
pub(crate) fn registry_dir() -> PathBuf {
    crate::util::fs::state_home()
}

/// A request for one track's block.
#[derive(Debug, Clone)]
pub(crate) struct Request<'a> {
    /// The track.
    pub track: &'a str,
    /// First port pk may hand out.
    pub base: u16,
    /// Block size.
    pub len: u16,
    /// The block the session's state already records for this track: kept as it is, so a
    /// track's ports never change across `pk up` runs (its dev server may be using them now).
    pub keep: Option<u16>,
}

/// True when nothing listens on `port`, on IPv4 or IPv6, any address or loopback: a dev server
/// that listens on `[::1]` only (as many do for `localhost`) holds the port as much as one on
/// `127.0.0.1`.
pub(crate) fn is_free(port: u16) -> bool {
    let v4 = [Ipv4Addr::UNSPECIFIED, Ipv4Addr::LOCALHOST]
        .map(|ip| SocketAddr::V4(SocketAddrV4::new(ip, port)));
    let v6 = [Ipv6Addr::UNSPECIFIED, Ipv6Addr::LOCALHOST]
        .map(|ip| SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)));
    v4.iter()
        .chain(&v6)
        .all(|addr| match TcpListener::bind(addr) {
            Ok(_) => true,
            Err(e) => no_such_address(&e),
        })
}

/// True when a bind failed because the machine has no such address or family (no IPv6, or no
/// `::1`), which says nothing about the port being taken.
fn no_such_address(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        Errno::from_io_error(e),
        Some(Errno::ADDRNOTAVAIL | Errno::AFNOSUPPORT)
    )
}

/// Picks the first block at or after `base`, aligned on `len`, that overlaps no taken block and
/// whose ports are all free. Pure but for the `free` probe, so it can be tested.
pub(crate) fn pick(
    base: u16,
    len: u16,
    taken: &[Block],
    free: &mut dyn FnMut(u16) -> bool,
) -> Option<u16> {
    let mut start = u32::from(base);
    while start + u32::from(len) - 1 <= u32::from(u16::MAX) {
        let s = start as u16;
        if let Some(b) = taken.iter().find(|b| b.overlaps(s, len)) {
            // Jump past the block in the way, keeping the alignment on `len` from `base`.
            let past = b.end().max(start + 1);
            let steps = (past - u32::from(base)).div_ceil(u32::from(len));
            start = u32::from(base) + steps * u32::from(len);
            continue;
        }
        if (0..len).all(|i| free(s + i)) {
            return Some(s);
        }
        start += u32::from(len);
    }
    None
}

/// What to do with a registry file that does not parse.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Damaged {
    /// Fail: handing out blocks from it could give away one another session holds.
    Refuse,
    /// Leave it as it is and change nothing (`pk down`: it cannot release what it cannot read,
    /// and tearing down must not fail on it; the next `pk up` reports it).
    Skip,
}

/// Reads the registry at `path`: empty when there is none yet, an error when it does not parse.
/// A file that is there but empty or cut short (edited by hand, a disk that filled up, a crash
/// of the file system) is not read as empty: the blocks it lost may be in use.
fn read_registry(path: &Path) -> Result<Registry> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registry::default()),
        Err(e) => {
            return Err(Error::failure(format!("failed to read {}", path.display()))
                .wrap_cause(e.to_string()));
        }
    };
    serde_json::from_str(&text).map_err(|e| {
        Error::failure(format!(
            "the port registry {} is damaged: {e}",
            path.display()
        ))
        .hint("pk hands out no ports from it: the blocks it lost may be held by other sessions")
        .hint(format!(
            "move it aside (`mv {0} {0}.damaged`), then run `pk up` first in each repository \
             whose pk session is up: each records its blocks again from its own state",
            crate::sys::shell::quote(&path.to_string_lossy())
        ))
    })
}

/// Opens the registry under its lock, lets `f` change it, writes it back.
fn with_registry<T: Default>(
    damaged: Damaged,
    f: impl FnOnce(&mut Registry) -> Result<T>,
) -> Result<T> {
    let read = |path: &Path| match read_registry(path) {
        Ok(registry) => Ok(Some(registry)),
        Err(_) if damaged == Damaged::Skip => Ok(None),
        Err(e) => Err(e),
    };
    let path = registry_dir().join("ports.json");
    Ok(crate::util::store::update(&path, "ports.lock", read, f)?.unwrap_or_default())
}

/// Hands out a block for each request of the session in `state_dir`, keeping blocks the registry
/// already holds for these tracks. Returns the first port of each block, in request order.
pub(crate) fn allocate(state_dir: &Path, requests: &[Request<'_>]) -> Result<Vec<u16>> {
    with_registry(Damaged::Refuse, |reg| {
        record(reg, state_dir, requests, &mut is_free)
    })
}

/// The locked step of [`allocate`]: makes the session's state folder, then assigns and records
/// its blocks. A block counts as held while its state folder exists, so the folder must exist
/// before the block is recorded: made later (with the state, after the lock is released), a
/// second `pk up` in that moment would take the block for a vanished session's and hand it out
/// again. A folder made for a `pk up` that then dies is removed, with its blocks, by `pk down`.
fn record(
    reg: &mut Registry,
    state_dir: &Path,
    requests: &[Request<'_>],
    free: &mut dyn FnMut(u16) -> bool,
) -> Result<Vec<u16>> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("failed to create {}", state_dir.display()))?;
    assign(reg, state_dir, requests, free)
}

/// The blocks pk would hand out now, without recording them (`pk check`, `pk layout`).
pub(crate) fn preview(state_dir: &Path, requests: &[Request<'_>]) -> Result<Vec<u16>> {
    let mut reg = read_registry(&registry_dir().join("ports.json"))?;
    assign(&mut reg, state_dir, requests, &mut is_free)
}

/// The allocation itself, on a registry in memory.
/// Gives each request its block; `free` probes a port (the machine's, but in tests).
fn assign(
    reg: &mut Registry,
    state_dir: &Path,
    requests: &[Request<'_>],
    free: &mut dyn FnMut(u16) -> bool,
) -> Result<Vec<u16>> {
    // Blocks of sessions whose state is gone (a repository deleted by hand) are free again.
    reg.blocks
        .retain(|b| b.state_dir == state_dir || b.state_dir.exists());
    let mut out = Vec::with_capacity(requests.len());
    for req in requests {
        let held = reg
            .blocks
            .iter()
            .find(|b| b.state_dir == state_dir && b.track == req.track && b.len == req.len)
            .map(|b| b.start);
        let start = match req.keep.or(held) {
            Some(start) => start,
            None => pick(req.base, req.len, &reg.blocks, free).ok_or_else(|| {
                Error::failure(format!(
                    "no block of {} free ports at or above {} for track `{}`",
                    req.len, req.base, req.track
                ))
                .hint("free some ports, or change `[ports] base` in the plan")
            })?,
        };
        reg.blocks
            .retain(|b| !(b.state_dir == state_dir && b.track == req.track));
        reg.blocks.push(Block {
            start,
            len: req.len,
            state_dir: state_dir.to_path_buf(),
            track: req.track.to_string(),
        });
        out.push(start);
    }
    Ok(out)
}

/// Gives back the blocks of `tracks` (all of the session's when `None`).
pub(crate) fn release(state_dir: &Path, tracks: Option<&[String]>) -> Result<()> {
    with_registry(Damaged::Skip, |reg| {
        reg.blocks
            .retain(|b| !(b.state_dir == state_dir && tracks.is_none_or(|t| t.contains(&b.track))));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(start: u16, len: u16) -> Block {
        Block {
            start,
            len,
            state_dir: PathBuf::from("/x"),
            track: "t".into(),
        }
    }

    #[test]
    fn picks_aligned_blocks_past_taken_ones() {
        let taken = [block(4100, 10), block(4115, 3)];
        assert_eq!(pick(4100, 10, &taken, &mut |_| true), Some(4120));
        assert_eq!(pick(4100, 10, &[], &mut |_| true), Some(4100));
    }

    #[test]
    fn skips_blocks_with_a_busy_port() {
        assert_eq!(pick(4100, 10, &[], &mut |p| p != 4105), Some(4110));
    }

    #[test]
    fn gives_up_at_the_top_of_the_range() {
        assert_eq!(pick(65530, 10, &[], &mut |_| true), None);
        assert_eq!(pick(65526, 10, &[], &mut |_| true), Some(65526));
    }

    #[test]
    fn sessions_never_share_blocks_and_tracks_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        std::fs::create_dir_all(&one).unwrap();
        std::fs::create_dir_all(&two).unwrap();
        let req = |track, keep| Request {
            track,
            base: 20100,
            len: 10,
            keep,
        };
        // Every port free: the machine is shared, and a port some other program holds for a
        // moment would move the blocks (`is_free` is tested on its own below).
        let assign = |reg: &mut Registry, dir: &Path, reqs: &[Request<'_>]| {
            assign(reg, dir, reqs, &mut |_| true)
        };
        let mut reg = Registry::default();
        let a = assign(&mut reg, &one, &[req("api", None), req("web", None)]).unwrap();
        let b = assign(&mut reg, &two, &[req("api", None)]).unwrap();
        assert!(a[1] >= a[0] + 10 && b[0] >= a[1] + 10, "{a:?} {b:?}");
        // Asked again, the same blocks; a recorded block is kept as it is.
        assert_eq!(
            assign(&mut reg, &one, &[req("api", None), req("web", None)]).unwrap(),
            a
        );
        assert_eq!(
            assign(&mut reg, &two, &[req("api", Some(30000))]).unwrap(),
            [30000]
        );
        // A session whose state folder is gone gives its blocks back.
        std::fs::remove_dir_all(&one).unwrap();
        let c = assign(&mut reg, &two, &[req("api", None), req("new", None)]).unwrap();
        assert_eq!(c[1], a[0], "{c:?}");
    }

    #[test]
    fn a_block_is_held_from_the_moment_it_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        // The first session's state folder is not there yet: `pk up` has just begun.
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        std::fs::create_dir_all(&two).unwrap();
        let req = [Request {
            track: "api",
            base: 20100,
            len: 10,
            keep: None,
        }];
        let mut reg = Registry::default();
        let a = record(&mut reg, &one, &req, &mut |_| true).unwrap();
        assert!(one.is_dir());
        // A second `pk up` before the first wrote its state does not take the block back.
        let b = record(&mut reg, &two, &req, &mut |_| true).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_damaged_registry_is_an_error_not_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        assert!(read_registry(&path).unwrap().blocks.is_empty());
        let whole = serde_json::to_string_pretty(&Registry {
            blocks: vec![block(4100, 10)],
        })
        .unwrap();
        for cut in ["", &whole[..whole.len() / 2]] {
            std::fs::write(&path, cut).unwrap();
            let err = read_registry(&path).unwrap_err().to_string();
            assert!(err.contains("is damaged"), "{err}");
        }
        std::fs::write(&path, &whole).unwrap();
        assert_eq!(read_registry(&path).unwrap().blocks, [block(4100, 10)]);
    }

    #[test]
    fn a_port_bound_on_ipv6_loopback_only_is_not_free() {
        // A machine without IPv6 cannot have the port held there.
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            return;
        };
        let port = listener.local_addr().unwrap().port();
        assert!(!is_free(port));
        drop(listener);
    }

    #[test]
    fn a_bound_port_is_not_free() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!is_free(port));
        drop(listener);
    }
}
