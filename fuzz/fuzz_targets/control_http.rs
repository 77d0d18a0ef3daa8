//! Control-plane HTTP bodies: `POST /v1/messages` (`SendRequest`, then its
//! validation), the budget routes' bodies (`budget::http::parse`, then
//! Claude's readings as the daemon takes them), and the answers a client
//! decodes (`MessagePage`, `DaemonStatus`, `ErrorBody`, budget `Report`).
//! Properties: no panic; parsed values round-trip through serde; accepted
//! readings are in range.
#![no_main]

use abg::budget::http::parse;
use abg::budget::readings::{Patch, claude_patches};
use abg::budget::report::Report;
use abg::control::protocol::budget::{ReadingsRequest, SideRequest};
use abg::control::protocol::{DaemonStatus, ErrorBody, MAX_BODY_BYTES, MessagePage, SendRequest};
use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};

/// 2026-12-01T00:00:00Z.
const NOW_MS: i64 = 1_796_083_200_000;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let again = serde_json::to_vec(&v).expect("serialise");
        let back: T = serde_json::from_slice(&again).expect("re-parse");
        assert_eq!(back, v);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<SendRequest>(data) {
        if req.validate(MAX_BODY_BYTES).is_ok() {
            assert!(!req.body.trim().is_empty() && req.from != req.to);
        }
        let again = serde_json::to_vec(&req).expect("serialise");
        assert_eq!(
            serde_json::from_slice::<SendRequest>(&again).expect("re-parse"),
            req
        );
    }
    if let Ok(req) = parse::<ReadingsRequest>(data) {
        let parsed = claude_patches(&req.rate_limits, NOW_MS);
        for (_, patch) in &parsed.patches {
            let checked: Patch = patch
                .check(NOW_MS, "x", ("u", "r"))
                .expect("accepted is in range");
            assert!(!checked.is_empty());
        }
        for e in &parsed.rejected {
            assert!(!e.to_string().is_empty());
        }
        round_trip::<ReadingsRequest>(data);
    }
    if parse::<SideRequest>(data).is_ok() {
        round_trip::<SideRequest>(data);
    }
    round_trip::<MessagePage>(data);
    round_trip::<DaemonStatus>(data);
    round_trip::<ErrorBody>(data);
    round_trip::<Report>(data);
});
