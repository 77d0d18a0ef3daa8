//! OpenCode's `/event` stream and the permission requests in it: the SSE
//! `Splitter`, `Event::parse` on each frame, `SessionMessage::parse` (the
//! session's messages, read for answers) and the inbox entry a
//! `permission.asked` becomes (`opencode::approvals::request`).
//! Properties: no panic on any bytes; the frames do not depend on where the
//! chunks break (the first byte picks the chunk size); an entry keeps the
//! request's id as its key, always offers approve and deny, and its detail
//! serialises (it is stored).
#![no_main]

use abg::opencode::api::SessionMessage;
use abg::opencode::approvals;
use abg::opencode::event::{Event, Splitter};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let whole = Splitter::default().feed(body);
    let mut chunked = Splitter::default();
    let mut frames = Vec::new();
    for chunk in body.chunks(usize::from(step % 17) + 1) {
        frames.extend(chunked.feed(chunk));
    }
    assert_eq!(whole, frames, "frames depend on chunk borders");
    for data in &frames {
        let Ok(frame) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        let event = Event::parse(&frame);
        let _ = event.session();
        let _ = SessionMessage::parse(&frame);
        if let Event::PermissionAsked { request } = &event {
            if let Some(entry) = approvals::request(request) {
                assert_eq!(Some(entry.request_key.as_str()), request["id"].as_str());
                let options = entry.options.clone().unwrap_or_default();
                assert!(options.iter().any(|o| o == "approve"));
                assert!(options.iter().any(|o| o == "deny"));
                serde_json::to_string(&entry).expect("an entry serialises");
            }
        }
    }
});
