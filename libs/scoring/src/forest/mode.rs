//! ONNX-ML's `nodes_modes`, and the rounding that lets f64 thresholds be compared in f32.

/// How a branch node compares the feature value `x` with its threshold `t`.
/// `true` sends the row to the node's "true" child, as in ONNX-ML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    /// ai.onnx.ml opset 5's BRANCH_MEMBER: true when `x` is one of the node's set
    /// (`NodeSpec::members`). It has no threshold, so [`Mode::compare`] cannot answer it:
    /// the forest looks the set up instead.
    Member,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Option<Mode>> {
        Some(match s {
            "BRANCH_LEQ" => Some(Mode::Leq),
            "BRANCH_LT" => Some(Mode::Lt),
            "BRANCH_GTE" => Some(Mode::Gte),
            "BRANCH_GT" => Some(Mode::Gt),
            "BRANCH_EQ" => Some(Mode::Eq),
            "BRANCH_NEQ" => Some(Mode::Neq),
            "LEAF" => None,
            _ => return None,
        })
    }

    pub(super) const ALL: [Mode; 7] = [
        Mode::Leq,
        Mode::Lt,
        Mode::Gte,
        Mode::Gt,
        Mode::Eq,
        Mode::Neq,
        Mode::Member,
    ];

    #[inline(always)]
    pub(super) fn compare(self, x: f32, t: f32) -> bool {
        match self {
            Mode::Leq => x <= t,
            Mode::Lt => x < t,
            Mode::Gte => x >= t,
            Mode::Gt => x > t,
            Mode::Eq => x == t,
            Mode::Neq => x != t,
            // Never called for a member node (see the variant): no threshold to compare.
            Mode::Member => false,
        }
    }

    /// The f32 threshold that makes `x <op> t32` agree with `x as f64 <op> t` for every
    /// f32 `x`, so double-precision thresholds (ONNX-ML opset 3 tensors) are honoured
    /// exactly while the hot loop stays in f32.
    pub(super) fn threshold_f32(self, t: f64) -> f32 {
        let near = t as f32;
        if near as f64 == t || t.is_nan() {
            return near;
        }
        match self {
            // x <= t and x > t: the largest f32 below t splits the same way.
            Mode::Leq | Mode::Gt => {
                if near as f64 > t {
                    next_down(near)
                } else {
                    near
                }
            }
            // x < t and x >= t: the smallest f32 above t.
            Mode::Lt | Mode::Gte => {
                if (near as f64) < t {
                    next_up(near)
                } else {
                    near
                }
            }
            // No f32 equals an unrepresentable t: NaN never compares equal, and `!=` is
            // always true, exactly as in double precision. A set member likewise: none
            // of the f32 values equals it, so it is dropped from the set.
            Mode::Eq | Mode::Neq | Mode::Member => f32::NAN,
        }
    }
}

fn next_up(x: f32) -> f32 {
    if x == f32::INFINITY {
        return x;
    }
    let bits = x.to_bits();
    let next = if x == 0.0 {
        1
    } else if x > 0.0 {
        bits + 1
    } else {
        bits - 1
    };
    f32::from_bits(next)
}

pub(super) fn next_down(x: f32) -> f32 {
    -next_up(-x)
}
