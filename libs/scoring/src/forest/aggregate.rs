//! ONNX-ML's `aggregate_function`.

/// How the trees' leaf values are combined into one score per target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

impl Aggregate {
    pub fn parse(s: &str) -> Option<Aggregate> {
        Some(match s {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            _ => return None,
        })
    }

    /// The neutral value: a leaf without a weight for a target contributes this.
    /// For MIN/MAX it is NaN, which `f32::min`/`f32::max` ignore, so "no value yet" needs
    /// no separate flag.
    pub(super) fn identity(self) -> f32 {
        match self {
            Aggregate::Sum | Aggregate::Average => 0.0,
            Aggregate::Min | Aggregate::Max => f32::NAN,
        }
    }

    #[inline(always)]
    pub(super) fn combine(self, acc: f32, v: f32) -> f32 {
        match self {
            Aggregate::Sum | Aggregate::Average => acc + v,
            Aggregate::Min => acc.min(v),
            Aggregate::Max => acc.max(v),
        }
    }
}
