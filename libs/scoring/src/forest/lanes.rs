//! What the lock-step walks share (`eval`, `early`, `rows`): how many lanes, how often
//! finished lanes are looked for, and the branch test, whose implementations are `eval`'s.

use super::layout::Node;

/// Lanes walked in lock-step: enough independent loads to hide L1/L2 latency, few enough
/// to stay in registers.
pub(super) const LANES: usize = 8;

/// Steps between looks for lanes that are done: cheap next to a row's hundreds of steps.
pub(super) const CHECK: usize = 4;

/// The branch test, chosen once per ensemble so the common single-mode case has no match
/// in the inner loop. `self` carries what a test needs beyond the node (member sets); the
/// others are zero-sized, passed by value so that they cost no argument at all.
pub(super) trait Compare: Copy {
    /// For one ordered comparison: the values a NaN becomes to go to the false child,
    /// and to the true child, whatever the (finite) threshold (see `rows`).
    const NAN_AS: Option<[f32; 2]> = None;
    fn compare(&self, n: &Node, x: f32) -> bool;
}
