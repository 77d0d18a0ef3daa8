//! The daemon's log: `tracing` into a size-rotated file in the pair's state
//! dir (`logs/daemon.log`, `daemon.log.1`, …). Verbosity comes from
//! `RUST_LOG`, else `log.level` (`ABG_LOG`).

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

/// Install the global subscriber writing to `file`.
pub fn init(file: &Path, level: &str, max_bytes: usize, max_files: usize) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).create(true).append(true).mode(0o600);
    let writer = FileRotate::new(
        file,
        AppendCount::new(max_files),
        ContentLimit::BytesSurpassed(max_bytes.max(1)),
        Compression::None,
        Some(options),
    );
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => crate::config::log_filter(&v)?,
        _ => crate::config::log_filter(level)?,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(writer))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))?;
    Ok(())
}
