//! Config files someone else controls: a repository's `.abg/config.toml`
//! may be a symlink to a device, a FIFO or a huge file. Each is a clear
//! error, quickly, without hanging or filling memory.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

/// Load `root`'s config on a thread; a load that hangs fails the test
/// instead of hanging it.
fn load_within(root: &Path, limit: Duration) -> String {
    let root = root.to_path_buf();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Config::load(None, Some(&root), &no_env).map(|_| ()));
    });
    match rx.recv_timeout(limit) {
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(())) => panic!("the config loaded"),
        Err(_) => panic!("loading the config did not finish within {limit:?}"),
    }
}

fn project() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join(".abg")).expect(".abg");
    let file = project_config_path(tmp.path());
    (tmp, file)
}

#[test]
fn a_config_symlinked_to_dev_zero_is_refused_quickly() {
    let (tmp, file) = project();
    std::os::unix::fs::symlink("/dev/zero", &file).expect("symlink");
    let err = load_within(tmp.path(), Duration::from_secs(5));
    assert!(
        err.contains(&file.display().to_string())
            && err.contains("character device, not a regular file"),
        "{err}"
    );
}

#[test]
fn a_config_that_is_a_fifo_does_not_hang() {
    let (tmp, file) = project();
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let err = load_within(tmp.path(), Duration::from_secs(5));
    assert!(
        err.contains(&file.display().to_string()) && err.contains("FIFO"),
        "{err}"
    );
}

#[test]
fn a_config_over_the_cap_names_the_cap() {
    let (tmp, file) = project();
    let mut text = "# padding\n".repeat((2 << 20) / 10);
    text.push_str("safe = true\n");
    std::fs::write(&file, text).expect("write");
    let err = load_within(tmp.path(), Duration::from_secs(5));
    assert!(
        err.contains(&file.display().to_string()) && err.contains("1048576 bytes (1 MiB)"),
        "{err}"
    );
}

#[test]
fn a_symlinked_regular_config_still_loads() {
    let (tmp, file) = project();
    let real = tmp.path().join("shared.toml");
    std::fs::write(&real, "[daemon]\nidle_shutdown_minutes = 7\n").expect("write");
    std::os::unix::fs::symlink(&real, &file).expect("symlink");
    let cfg = Config::load(None, Some(tmp.path()), &no_env).expect("load");
    assert_eq!(
        cfg.source("daemon.idle_shutdown_minutes"),
        Some(&Source::Project(file))
    );
}
