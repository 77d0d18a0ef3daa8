//! Tests of the `abg init` file plan against real temp directories.

use std::fs;

use super::*;

const DEFAULTS: &str = "# defaults\n";

fn run(root: &Path) -> Vec<Applied> {
    apply(&plan(root, DEFAULTS).expect("plan")).expect("apply")
}

fn read(root: &Path, name: &str) -> String {
    fs::read_to_string(root.join(name)).expect(name)
}

#[test]
fn fresh_project_gets_both_files_and_the_config() {
    let tmp = tempfile::tempdir().expect("tmp");
    let done = run(tmp.path());
    let labels: Vec<&str> = done.iter().map(|a| a.label.as_str()).collect();
    assert_eq!(labels, ["AGENTS.md", "CLAUDE.md", ".abg/config.toml"]);
    assert!(done.iter().all(|a| a.backup.is_none()));
    let agents = read(tmp.path(), "AGENTS.md");
    assert!(agents.starts_with(markers::START) && agents.contains("[from Claude]"));
    let claude = read(tmp.path(), "CLAUDE.md");
    assert!(claude.contains("`reply` tool") && claude.trim_end().ends_with(markers::END));
    assert_eq!(read(tmp.path(), ".abg/config.toml"), DEFAULTS);

    // Re-running changes nothing and writes nothing.
    let again = plan(tmp.path(), DEFAULTS).expect("plan");
    assert!(again.iter().all(|p| !p.writes()), "{again:?}");
    assert!(run(tmp.path()).is_empty());
    assert!(!tmp.path().join("AGENTS.md.abg-backup").exists());
}

#[test]
fn existing_content_is_kept_and_backed_up_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let original = "# My rules\n\nUse tabs.\n";
    fs::write(tmp.path().join("AGENTS.md"), original).expect("write");
    fs::create_dir_all(tmp.path().join(".abg")).expect("dir");
    fs::write(tmp.path().join(".abg/config.toml"), "safe = true\n").expect("cfg");

    let done = run(tmp.path());
    assert_eq!(done.len(), 2, "config exists: not rewritten");
    let backup = tmp.path().join("AGENTS.md.abg-backup");
    assert_eq!(done[0].backup.as_deref(), Some(backup.as_path()));
    assert_eq!(fs::read_to_string(&backup).expect("backup"), original);
    let agents = read(tmp.path(), "AGENTS.md");
    assert!(agents.starts_with(original), "{agents}");
    assert_eq!(read(tmp.path(), ".abg/config.toml"), "safe = true\n");

    // Someone edits inside the section and adds text after it: the next run
    // restores the section, keeps the new text, and keeps the first backup.
    let edited = agents.replace("Default roles", "Roles") + "\nMore rules.\n";
    fs::write(tmp.path().join("AGENTS.md"), &edited).expect("edit");
    let done = run(tmp.path());
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].kind, Kind::Contract(Change::Updated));
    assert!(done[0].backup.is_none(), "backup is written only once");
    assert_eq!(fs::read_to_string(&backup).expect("backup"), original);
    assert_eq!(read(tmp.path(), "AGENTS.md"), agents + "\nMore rules.\n");
}

#[test]
fn malformed_markers_stop_everything() {
    let tmp = tempfile::tempdir().expect("tmp");
    fs::write(tmp.path().join("CLAUDE.md"), "x\n<!-- abg:start -->\n").expect("write");
    let err = plan(tmp.path(), DEFAULTS)
        .expect_err("malformed")
        .to_string();
    assert!(err.contains("CLAUDE.md") && err.contains("line 2"), "{err}");
    assert!(!tmp.path().join("AGENTS.md").exists());
}

#[test]
fn dry_run_previews_without_writing() {
    let tmp = tempfile::tempdir().expect("tmp");
    fs::write(tmp.path().join("CLAUDE.md"), "# Notes\n").expect("write");
    let planned = plan(tmp.path(), DEFAULTS).expect("plan");
    let previews: Vec<String> = planned.iter().map(Planned::preview).collect();
    assert!(previews[0].starts_with("--- /dev/null\n+++ b/AGENTS.md\n@@ -0,0 +1,"));
    assert!(previews[1].starts_with("--- a/CLAUDE.md\n+++ b/CLAUDE.md\n@@ -1,1 +1,"));
    assert!(previews[1].contains("\n # Notes\n+\n+<!-- abg:start -->\n"));
    assert!(previews[2].contains("would create .abg/config.toml"));
    assert!(!tmp.path().join("AGENTS.md").exists());
    assert!(!tmp.path().join(".abg").exists());
    assert_eq!(read(tmp.path(), "CLAUDE.md"), "# Notes\n");
}

#[test]
fn one_file_for_both_agents_gets_one_combined_section() {
    let tmp = tempfile::tempdir().expect("tmp");
    fs::write(tmp.path().join("AGENTS.md"), "# Shared\n").expect("write");
    std::os::unix::fs::symlink("AGENTS.md", tmp.path().join("CLAUDE.md")).expect("link");
    let done = run(tmp.path());
    assert_eq!(done[0].label, "AGENTS.md (= CLAUDE.md)");
    let text = read(tmp.path(), "AGENTS.md");
    assert_eq!(text.matches(markers::START).count(), 1);
    assert!(text.contains("[from Claude]") && text.contains("`reply` tool"));
    let link = fs::symlink_metadata(tmp.path().join("CLAUDE.md")).expect("meta");
    assert!(link.file_type().is_symlink(), "the symlink survives");
    assert!(run(tmp.path()).is_empty(), "idempotent");
}
