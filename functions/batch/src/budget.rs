//! How a slice's time is shared out before its deadline, so that it hands its cursor back
//! before the guard stops it. The longest any one store call may take is the batch call
//! policy's (`CallPolicy::BATCH`: 120 s, every attempt and backoff included). Reading stops
//! `margin` before the deadline; a page read before then may go on with its calls for at
//! most [`page_allowance`] (what is not written by then is handed back, its cursor kept,
//! and read again by the next invocation); then come the slice's figures (one call) and
//! the guard's [`ANSWER_SLACK`]. The margin must hold all three: [`least_margin`].

use std::time::Duration;

use aws_adapter::CallPolicy;

use crate::guard::ANSWER_SLACK;

/// The longest one call to a store may take.
pub const CALL: Duration = CallPolicy::BATCH.operation_timeout;

/// How long a page read just before the stop may go on: its Scan call, a round of writes
/// and one resend wait (`resend_delay`, the longest), each at their longest.
pub fn page_allowance(resend_delay: Duration) -> Duration {
    CALL + CALL + resend_delay
}

/// The least margin before the deadline at which reading must stop: a page's allowance,
/// then one call for the slice's figures, then the guard's slack.
pub fn least_margin(resend_delay: Duration) -> Duration {
    page_allowance(resend_delay) + CALL + ANSWER_SLACK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_margin_holds_a_page_the_figures_and_the_guard() {
        let delay = Duration::from_secs(20);
        assert_eq!(page_allowance(delay), Duration::from_secs(260));
        assert_eq!(least_margin(delay), Duration::from_secs(383));
        // The margin leaves a 15-minute invocation most of its time for reading.
        assert!(least_margin(delay) * 2 < Duration::from_secs(900));
    }
}
