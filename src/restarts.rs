//! Restart pacing for a server a daemon supervises (Codex's app-server,
//! OpenCode's server): after a failed start or an unexpected exit wait a
//! backoff that doubles up to a cap, cut short by shutdown; a server that
//! ran a while, or a deliberate restart (a mode change), starts again from
//! the shortest wait. One copy, so both adapters back off alike.

use std::time::Duration;

use tokio::sync::watch;

/// The shortest wait, after a deliberate restart or a long run.
const FIRST: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
const MAX: Duration = Duration::from_secs(30);
/// A server that ran this long before it exited is not failing fast.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// The backoff of one supervised server.
#[derive(Debug, Clone)]
pub struct Restarts {
    next: Duration,
}

impl Default for Restarts {
    fn default() -> Self {
        Self { next: FIRST }
    }
}

impl Restarts {
    /// Start again from the shortest wait (a deliberate restart).
    pub fn reset(&mut self) {
        self.next = FIRST;
    }

    /// The wait before the next attempt (for logs and tests).
    pub fn next_wait(&self) -> Duration {
        self.next
    }

    /// The wait after a failed start (`ran: None`) or an exit after
    /// running `ran`, doubling the next one.
    fn step(&mut self, ran: Option<Duration>) -> Duration {
        if ran.is_some_and(|r| r > HEALTHY_RUN) {
            self.reset();
        }
        let wait = self.next;
        self.next = (self.next * 2).min(MAX);
        wait
    }

    /// Wait [`Self::step`]'s time. `false` when `stop` fired meanwhile
    /// (the caller stops supervising).
    pub async fn pause(&mut self, ran: Option<Duration>, stop: &mut watch::Receiver<bool>) -> bool {
        let wait = self.step(ran);
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = stop.changed() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_to_a_cap_and_resets_after_a_long_run() {
        let mut r = Restarts::default();
        let waits: Vec<Duration> = (0..10).map(|_| r.step(None)).collect();
        assert_eq!(waits[0], FIRST);
        assert_eq!(waits[1], FIRST * 2);
        assert_eq!(waits[9], MAX);
        assert_eq!(
            r.step(Some(Duration::from_secs(5))),
            MAX,
            "a quick exit keeps backing off"
        );
        assert_eq!(
            r.step(Some(Duration::from_secs(61))),
            FIRST,
            "a long run starts over"
        );
        assert_eq!(r.next_wait(), FIRST * 2);
        r.reset();
        assert_eq!(r.next_wait(), FIRST);
    }

    #[tokio::test]
    async fn shutdown_cuts_the_wait_short() {
        let (tx, mut rx) = watch::channel(false);
        let mut r = Restarts::default();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = tx.send(true);
        });
        assert!(!r.pause(None, &mut rx).await);
        let _ = stopper.await;
    }
}
