//! Outcomes written [`MAX_WRITE`] at a time, what the table leaves unwritten resent a few
//! times with a growing pause; then the count written so far, for the caller to resend
//! the rest (safe: an outcome is keyed by its subject and `observed_at`).

use std::time::Duration;

use store::outcomes::{Outcome, OutcomeSink, MAX_WRITE};
use store::StoreError;

/// How many times a chunk is sent before the write gives up on it.
pub const ATTEMPTS: u32 = 5;

/// The pause before the first resend; doubled each time (25, 50, 100, 200 ms: under 0.4 s
/// per chunk, well inside the function's timeout).
pub const FIRST_PAUSE: Duration = Duration::from_millis(25);

/// The most a request pauses in all, whatever its chunks' pauses add up to: the function
/// times out at 10 s.
pub const PAUSE_BUDGET: Duration = Duration::from_secs(3);

/// Why a write stopped, and how many outcomes were written before.
#[derive(Debug)]
pub struct Stopped {
    pub written: usize,
    /// The store's error; `None` when it kept leaving outcomes unwritten.
    pub error: Option<StoreError>,
}

/// Writes every outcome, in order; the first chunk that cannot be written stops it.
pub async fn write_all<O: OutcomeSink>(sink: &O, outcomes: &[Outcome]) -> Result<(), Stopped> {
    let mut written = 0;
    let mut paused = Duration::ZERO;
    for chunk in outcomes.chunks(MAX_WRITE) {
        let mut pending = chunk.to_vec();
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=ATTEMPTS {
            let before = pending.len();
            pending = match sink.put(&pending).await {
                Ok(unwritten) => unwritten,
                Err(e) => {
                    return Err(Stopped {
                        written: written + chunk.len() - before,
                        error: Some(e),
                    })
                }
            };
            if pending.is_empty() {
                break;
            }
            if attempt == ATTEMPTS || paused + pause > PAUSE_BUDGET {
                break;
            }
            tokio::time::sleep(pause).await;
            paused += pause;
            pause *= 2;
        }
        if !pending.is_empty() {
            return Err(Stopped {
                written: written + chunk.len() - pending.len(),
                error: None,
            });
        }
        written += chunk.len();
    }
    Ok(())
}
