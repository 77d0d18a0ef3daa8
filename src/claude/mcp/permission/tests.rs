use std::io::Write;

use serde_json::json;

use super::*;

/// Lines as Claude Code 2.1.330 wrote them in the probe
/// (`tests/reference/approvals.md` §2.3–2.4).
const RELAY_ALLOW: &str = "2026-12-07T01:45:40.295Z [DEBUG] executePermissionRequestHooks called for tool: Bash
2026-12-07T01:45:40.725Z [DEBUG] MCP server \"bridge\": notifications/claude/channel/permission: yczdt \u{2192} allow (matched pending)
2026-12-07T01:45:40.726Z [INFO] [Stall] tool_dispatch_start tool=Bash toolUseId=toolu_relay_allow permissionDecisionMs=447
";
const TUI_ALLOW: &str = "2026-12-07T01:45:46.791Z [DEBUG] executePermissionRequestHooks called for tool: Bash
2026-12-07T01:45:47.069Z [DEBUG] Preserving file permissions: 100644
2026-12-07T01:45:48.327Z [INFO] [Stall] tool_dispatch_start tool=Bash toolUseId=toolu_tui_allow permissionDecisionMs=1542
";
const LATE: &str = "2026-12-07T01:45:49.454Z [DEBUG] MCP server \"bridge\": notifications/claude/channel/permission: nhdpp \u{2192} deny (no pending entry \u{2014} stale or unknown ID)
";
const TUI_DENY: &str = "2026-12-07T01:45:53.039Z [DEBUG] executePermissionRequestHooks called for tool: Bash
2026-12-07T01:45:54.617Z [DEBUG] Aborting: tool=Bash isAbort=undefined hasFeedback=false isSubagent=false
2026-12-07T01:45:54.618Z [DEBUG] Bash tool permission denied
";

fn req(id: &str, tool: &str) -> PermissionRequest {
    parse_request(
        "s1",
        Some(&json!({"request_id": id, "tool_name": tool, "description": "d", "input_preview": "{}"})),
    )
    .expect("valid")
}

#[test]
fn claudes_params_are_checked() {
    let ok = req("uhssg", "Bash");
    assert_eq!(ok.session, "s1");
    assert_eq!(ok.request_id, "uhssg");
    let bare = parse_request("s", Some(&json!({"request_id": "a", "tool_name": "Bash"})))
        .expect("description and preview are optional");
    assert_eq!(bare.description, "");
    for (params, want) in [
        (None, "without params"),
        (Some(json!([])), "without params"),
        (Some(json!({"tool_name": "Bash"})), "\"request_id\""),
        (
            Some(json!({"request_id": "", "tool_name": "Bash"})),
            "non-empty",
        ),
        (Some(json!({"request_id": 7, "tool_name": "Bash"})), "got 7"),
        (
            Some(json!({"request_id": "a", "tool_name": "Bash", "description": {}})),
            "\"description\"",
        ),
    ] {
        let e = parse_request("s", params.as_ref()).expect_err("invalid");
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn the_log_scanner_reads_claudes_lines() {
    let all = format!("{RELAY_ALLOW}{TUI_ALLOW}{LATE}{TUI_DENY}");
    let events: Vec<LogEvent> = scan(&all).into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        events,
        vec![
            LogEvent::Dispatched {
                tool: "Bash".into()
            },
            LogEvent::Dispatched {
                tool: "Bash".into()
            },
            LogEvent::NoPending {
                request_id: "nhdpp".into()
            },
            LogEvent::Denied {
                tool: "Bash".into()
            },
        ]
    );
    // Offsets point at each event's own line.
    for (at, _) in scan(&all) {
        assert!(all[at..].starts_with("2026-"), "{at}");
    }
    assert!(scan("no brackets here\n[x] Bash tool permission denied by policy\n").is_empty());
}

fn relay_with_log() -> (tempfile::TempDir, PathBuf, Relay) {
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("claude-debug.log");
    std::fs::write(&log, "2026-12-07T01:45:36.656Z [DEBUG] start\n").expect("write");
    let relay = Relay::new("s1".into(), Some(log.clone()));
    (dir, log, relay)
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(text.as_bytes()).expect("append");
}

#[test]
fn a_dialog_answered_in_the_tui_settles_its_request() {
    let (_dir, log, relay) = relay_with_log();
    assert!(relay.poll().is_empty(), "nothing open, nothing settles");
    relay.opened(req("nhdpp", "Bash"));
    assert!(relay.watching());
    // Half a line is not read yet.
    append(
        &log,
        "2026-12-07T01:45:48.327Z [INFO] [Stall] tool_dispatch_st",
    );
    assert!(relay.poll().is_empty());
    append(
        &log,
        "art tool=Bash toolUseId=t permissionDecisionMs=1542\n",
    );
    assert_eq!(relay.poll(), vec![("nhdpp".to_string(), Settled::Allowed)]);
    assert!(relay.open_requests().is_empty());

    relay.opened(req("bcpyy", "Bash"));
    append(&log, TUI_DENY);
    assert_eq!(relay.poll(), vec![("bcpyy".to_string(), Settled::Denied)]);
}

#[test]
fn abgs_own_answer_is_not_a_tui_answer_and_a_late_one_is_stale() {
    let (_dir, log, relay) = relay_with_log();
    relay.opened(req("yczdt", "Bash"));
    relay.answered("yczdt");
    append(&log, RELAY_ALLOW);
    assert!(relay.poll().is_empty(), "abg answered it: not a TUI answer");

    relay.opened(req("nhdpp", "Bash"));
    relay.answered("nhdpp");
    append(&log, LATE);
    assert_eq!(relay.poll(), vec![("nhdpp".to_string(), Settled::Stale)]);
}

#[test]
fn lines_before_a_request_arrived_or_for_another_tool_do_not_settle_it() {
    let (_dir, log, relay) = relay_with_log();
    // The line is written before the request arrives, unread so far.
    append(&log, TUI_ALLOW);
    relay.opened(req("later", "Bash"));
    assert!(relay.poll().is_empty());
    append(
        &log,
        "2026-12-07T01:46:14.840Z [INFO] [Stall] tool_dispatch_start tool=Write toolUseId=t permissionDecisionMs=3\n",
    );
    assert!(relay.poll().is_empty());
    assert_eq!(relay.open_requests().len(), 1);
}

#[test]
fn a_new_log_is_read_from_its_start_and_no_log_settles_nothing() {
    let (_dir, log, relay) = relay_with_log();
    append(&log, &TUI_ALLOW.repeat(20));
    assert!(relay.poll().is_empty());
    std::fs::write(&log, "").expect("truncate");
    relay.opened(req("x", "Bash"));
    append(&log, TUI_DENY);
    assert_eq!(relay.poll(), vec![("x".to_string(), Settled::Denied)]);

    let blind = Relay::new("s".into(), None);
    blind.opened(req("y", "Bash"));
    assert!(blind.poll().is_empty());
    assert_eq!(blind.open_requests().len(), 1, "stays pending for a person");
}

#[test]
fn open_requests_are_bounded_and_replaced_by_id() {
    let relay = Relay::new("s".into(), None);
    for i in 0..(KEEP + 10) {
        relay.opened(req(&format!("r{i}"), "Bash"));
    }
    relay.opened(req("r70", "Bash"));
    let open = relay.open_requests();
    assert_eq!(open.len(), KEEP);
    assert_eq!(open.last().map(|r| r.request_id.as_str()), Some("r70"));
}
