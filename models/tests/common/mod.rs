//! What the lingot-models tests share: where the reference data lives.

use std::path::PathBuf;

/// `$LINGOT_REFERENCE`, else `../shared/reference` beside the project root. Panics with a clear
/// message when it is missing: a test that needs it must fail, never pass silently.
pub fn reference_dir() -> PathBuf {
    let dir = std::env::var_os("LINGOT_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/reference")));
    assert!(
        dir.join("README.md").is_file(),
        "reference data not found at {} (set LINGOT_REFERENCE to the shared/reference folder)",
        dir.display()
    );
    dir
}
