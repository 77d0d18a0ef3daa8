//! Control-plane WebSocket frames: what the daemon parses from a client
//! (`control::server::parse_frame`, then `SendRequest::validate` for a send)
//! and what a client parses from the daemon (`ServerFrame`). Properties: no
//! panic; an oversized frame is refused as `too_large`; a parsed frame
//! re-serialised parses back to the same value.
#![no_main]

use abg::control::protocol::{ClientFrame, ErrorCode, MAX_BODY_BYTES, ServerFrame};
use abg::control::server::parse_frame;
use libfuzzer_sys::fuzz_target;

/// A small frame cap, so the size check is reached too.
const CAP: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_frame(text, CAP) {
        Ok(frame) => {
            assert!(text.len() <= CAP);
            let again = serde_json::to_string(&frame).expect("a frame serialises");
            let back: ClientFrame = serde_json::from_str(&again).expect("re-parse");
            assert_eq!(back, frame, "round trip of {again}");
            if let ClientFrame::Send { message, .. } = &frame {
                let _ = message.validate(MAX_BODY_BYTES);
                let _ = message.validate(8);
            }
        }
        Err(e) => match *e {
            ServerFrame::Error { code, .. } => {
                assert!(matches!(code, ErrorCode::TooLarge | ErrorCode::BadFrame));
                assert_eq!(code == ErrorCode::TooLarge, text.len() > CAP);
            }
            other => panic!("not an error frame: {other:?}"),
        },
    }
    if let Ok(frame) = serde_json::from_str::<ServerFrame>(text) {
        let again = serde_json::to_string(&frame).expect("a frame serialises");
        let back: ServerFrame = serde_json::from_str(&again).expect("re-parse");
        assert_eq!(back, frame, "round trip of {again}");
    }
});
