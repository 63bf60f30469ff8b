//! The `pk` binary the tests and benches run.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The path of the `pk` binary, built once per process.
///
/// `CARGO_BIN_EXE_pk` exists only for the tests of the package that owns the binary
/// (`pk-cli`), and `cargo test --workspace` builds no other package's binary for this one, so
/// it is built here with `cargo build` through `escargot`. That nested cargo works because
/// cargo releases its build lock before it runs tests and benches. `current_release()` follows
/// the profile this crate was built with: a bench (release) times a release `pk`, a test gets
/// a debug one, as `CARGO_BIN_EXE_pk` gave them. No `--target` (escargot's `current_target`):
/// it would build every dependency again under `target/<triple>/` instead of reusing
/// `target/debug` or `target/release`. `--locked` as in CI: the build must not change
/// `Cargo.lock`.
pub fn pk_bin() -> &'static Path {
    static PK: OnceLock<PathBuf> = OnceLock::new();
    PK.get_or_init(|| {
        let built = escargot::CargoBuild::new()
            .package("pk-cli")
            .bin("pk")
            .current_release()
            .arg("--locked")
            .run()
            .unwrap_or_else(|e| panic!("could not build pk: {e}"));
        built.path().to_path_buf()
    })
}

/// The `pk-cli` package's folder, for the files it carries (the replay assets).
pub fn pk_cli_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pk-cli")
}
