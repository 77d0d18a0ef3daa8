//! Racing real `abg` processes: one daemon and one registry entry per pair,
//! distinct slots for distinct projects.

use std::collections::BTreeSet;

use crate::env::AbgEnv;

#[test]
fn sixteen_concurrent_status_calls_make_one_daemon_and_one_entry() {
    let env = AbgEnv::new();
    let p = env.project("racy");
    let children: Vec<_> = (0..16)
        .map(|_| {
            env.cmd(&p)
                .args(["status", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut pids = BTreeSet::new();
    let mut spawned = 0;
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        pids.insert(v["pid"].as_u64().expect("pid"));
        if v["spawned"] == true {
            spawned += 1;
        }
    }
    assert_eq!(pids.len(), 1, "all callers see one daemon: {pids:?}");
    assert_eq!(spawned, 1, "exactly one caller spawned it");
    let all = env.json(&p, &["pair", "--all", "--json"]);
    assert_eq!(all.as_array().expect("array").len(), 1);
    assert_eq!(env.pair_dirs().len(), 1);
}

#[test]
fn concurrent_projects_get_distinct_slots() {
    let env = AbgEnv::new();
    let projects: Vec<_> = (0..4).map(|i| env.project(&format!("p{i}"))).collect();
    let children: Vec<_> = projects
        .iter()
        .map(|p| {
            env.cmd(p)
                .args(["status", "--json"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let all = env.json(&projects[0], &["pair", "--all", "--json"]);
    let slots: BTreeSet<u64> = all
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["slot"].as_u64().expect("slot"))
        .collect();
    assert_eq!(slots, (0..4).collect::<BTreeSet<u64>>());
}
