//! Claude's statusline JSON as `abg statusline` takes it: the compact line
//! (`budget::statusline::compact`), the quota windows recorded
//! (`budget::readings::claude_patches`) and the user's own statusLine
//! command found in a settings object (`command_of`). Properties: no panic
//! (out-of-range figures are rejected, not overflowed); accepted windows
//! are in range; the line is one line.
#![no_main]

use abg::budget::readings::claude_patches;
use abg::budget::statusline::{command_of, compact};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// 2026-12-01T00:00:00Z.
const NOW_MS: i64 = 1_796_083_200_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let input: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    for now_s in [NOW_MS / 1000, 0, i64::MAX / 2] {
        let line = compact(&input, now_s);
        assert!(line.starts_with("abg"));
    }
    if let Some(limits) = input.get("rate_limits") {
        let parsed = claude_patches(limits, NOW_MS);
        assert!(parsed.patches.len() + parsed.rejected.len() <= 2);
        for (_, p) in &parsed.patches {
            p.check(NOW_MS, "x", ("u", "r"))
                .expect("accepted is in range");
        }
    }
    if let Some(cmd) = command_of(&input) {
        assert!(!cmd.is_empty() && cmd == cmd.trim());
    }
});
