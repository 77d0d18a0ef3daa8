//! A child process writes through the store and is killed with SIGKILL while the store is
//! still open; everything it committed must be there when the parent reopens the file.
//! The child is this same test binary re-executed on [`sigkill_child_writer`].

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::super::{DeliveryState, NewMessage, PeerId, Store};

/// Set (to a directory) only in the re-executed child.
const CHILD_ENV: &str = "ABG_STORE_TEST_SIGKILL_CHILD_DIR";
const MESSAGES: usize = 200;

/// Child half: a no-op in a normal test run.
#[test]
fn sigkill_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let mut store = Store::open(&dir.join("store.db")).unwrap();
    // One transaction per message, like the daemon acknowledging each send.
    for i in 0..MESSAGES {
        let m = NewMessage {
            idempotency_key: Some(format!("k{i}")),
            ..NewMessage::new(
                PeerId::from_static("codex"),
                PeerId::from_static("claude"),
                format!("durable {i}"),
            )
        };
        store.insert_message(&m).unwrap();
    }
    let first = store.messages_after(0, 1).unwrap().remove(0);
    store
        .transition(
            &first.id,
            PeerId::from_static("claude"),
            DeliveryState::Pushed,
            None,
            None,
        )
        .unwrap();
    store
        .record_event("child.done", json!({"n": MESSAGES}))
        .unwrap();
    store.set_setting("child", &true).unwrap();
    store.tombstone_insert("child-once", json!(null)).unwrap();
    // Every write above has returned: report it, then wait to be killed with the store open.
    std::fs::write(dir.join("ready.tmp"), b"ok").unwrap();
    std::fs::rename(dir.join("ready.tmp"), dir.join("ready")).unwrap();
    // Give up after a while so a parent that died first leaves no orphan behind.
    std::thread::sleep(Duration::from_secs(180));
    std::process::exit(3);
}

/// Kills the child if the parent test fails before doing so itself.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn committed_writes_survive_sigkill() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let module = module_path!();
    let test_name = format!(
        "{}::sigkill_child_writer",
        module.split_once("::").map_or(module, |(_, rest)| rest)
    );
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([
                test_name.as_str(),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while !dir.path().join("ready").exists() {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("child exited before finishing its writes: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "child did not report its writes in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.0.kill().unwrap(); // SIGKILL on Unix
    let status = child.0.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status}");

    let store = Store::open(&dir.path().join("store.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let msgs = store.messages_after(0, 1000).unwrap();
    assert_eq!(msgs.len(), MESSAGES);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.body, format!("durable {i}"));
    }
    assert_eq!(
        store.deliveries_for(&msgs[0].id).unwrap()[0].state,
        DeliveryState::Pushed
    );
    assert_eq!(
        store.unacked_count(PeerId::from_static("claude")).unwrap(),
        MESSAGES as u64
    );
    assert_eq!(store.events_after(0, 10).unwrap()[0].kind, "child.done");
    assert_eq!(store.get_setting::<bool>("child").unwrap(), Some(true));
    assert!(store.tombstone_get("child-once").unwrap().is_some());
}
