//! How onnxruntime turns a tree classifier's per-class sums into scores and a label
//! (`TreeAggregatorClassifier::FinalizeScores` and `write_scores`), reproduced quirks
//! included: converters rely on them for the binary case.
//!
//! A class "has a score" for a row when some leaf the row reaches carries a weight for
//! it; onnxruntime treats classes without one differently from a zero sum.

use super::labels::Choice;
use super::transform::{logistic, PostTransform};

#[derive(Clone, Debug, PartialEq)]
pub struct ClassFinish {
    pub n_classes: usize,
    /// Added after the sums; at most `n_classes` values (checked at load).
    pub base_values: Vec<f32>,
    /// Two classes, and the weights name only one of them.
    pub binary_case: bool,
    pub weights_all_positive: bool,
    pub transform: PostTransform,
}

/// onnxruntime's `add_second_class` codes: how one binary score becomes two columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Second {
    /// Probabilities: `[1 - p, p]`.
    Complement,
    /// Margins: `[-s, s]` (or their logistic).
    Mirror,
    /// None: the second column is left alone (refused at load where it can happen).
    Unset,
}

impl ClassFinish {
    /// Finishes one row: `sums` and `has` per class in, scores out in `z`
    /// (`n_classes` values), label returned.
    pub fn row(&self, sums: &[f32], has: &[bool], z: &mut [f32]) -> Choice {
        if self.n_classes > 2 {
            self.multiclass(sums, has, z)
        } else {
            self.binary(sums, has, z)
        }
    }

    fn multiclass(&self, sums: &[f32], has: &[bool], z: &mut [f32]) -> Choice {
        let mut best: Option<(usize, f32)> = None;
        for k in 0..self.n_classes {
            let (score, has) = match self.base_values.get(k) {
                Some(&b) => (sums[k] + b, true),
                None => (sums[k], has[k]),
            };
            z[k] = if has { score } else { 0.0 };
            // The first strict maximum among classes with a score wins.
            if has && best.is_none_or(|(_, m)| score > m) {
                best = Some((k, score));
            }
        }
        self.transform.apply(z);
        // No class with a score is undefined behaviour in onnxruntime; class 0 here.
        Choice::Class(best.map_or(0, |(k, _)| k))
    }

    fn binary(&self, sums: &[f32], has: &[bool], z: &mut [f32]) -> Choice {
        let (mut s0, mut s1, h0, mut h1) = (sums[0], sums[1], has[0], has[1]);
        let mut second = Second::Unset;
        let mut two_columns = true;
        match self.base_values.len() {
            2 => {
                if h1 {
                    // onnxruntime adds base[1] to the class-0 sum here, not the class-1
                    // sum, and mirrors it; base[0] is ignored.
                    s1 = self.base_values[1] + s0;
                    s0 = -s1;
                    h1 = true;
                } else {
                    s1 += self.base_values[1];
                    s0 += self.base_values[0];
                }
            }
            1 => {
                s0 += self.base_values[0];
                two_columns = h1;
            }
            _ => {
                second = Second::Mirror;
                two_columns = h1;
            }
        }
        let positive = if two_columns && h1 {
            s1
        } else if h0 {
            s0
        } else {
            0.0
        };
        let choice = if self.binary_case {
            let (threshold, kind) = if self.weights_all_positive {
                (0.5, Second::Complement)
            } else {
                (0.0, Second::Mirror)
            };
            second = kind;
            Choice::Class((positive > threshold) as usize)
        } else {
            Choice::Literal(positive > 0.0)
        };

        let v0 = if h0 { s0 } else { 0.0 };
        if two_columns {
            z[0] = v0;
            z[1] = if h1 { s1 } else { 0.0 };
            self.transform.apply(z);
            return choice;
        }
        match (self.transform, second) {
            // Refused at load for two classes: onnxruntime writes one column only.
            (PostTransform::Probit, _) | (_, Second::Unset) => {
                z[0] = v0;
                z[1] = 0.0;
            }
            // onnxruntime 1.31 applies LOGISTIC before completing; other transforms are
            // skipped on this path (checked against it, not its older sources).
            (PostTransform::Logistic, Second::Complement) => {
                let p = logistic(v0);
                z[0] = 1.0 - p;
                z[1] = p;
            }
            (_, Second::Complement) => {
                z[0] = 1.0 - v0;
                z[1] = v0;
            }
            (PostTransform::Logistic, Second::Mirror) => {
                z[0] = logistic(-v0);
                z[1] = logistic(v0);
            }
            (_, Second::Mirror) => {
                z[0] = -v0;
                z[1] = v0;
            }
        }
        choice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(base: &[f32], binary: bool, positive: bool, t: PostTransform) -> ClassFinish {
        ClassFinish {
            n_classes: 2,
            base_values: base.to_vec(),
            binary_case: binary,
            weights_all_positive: positive,
            transform: t,
        }
    }

    fn run(f: &ClassFinish, sums: &[f32], has: &[bool]) -> (Vec<f32>, Choice) {
        let mut z = vec![f32::NAN; f.n_classes];
        let c = f.row(sums, has, &mut z);
        (z, c)
    }

    #[test]
    fn random_forest_binary_is_one_minus_p() {
        // skl2onnx: class-1 probabilities under class id 0, no base values.
        let f = finish(&[], true, true, PostTransform::None);
        assert_eq!(
            run(&f, &[0.75, 0.0], &[true, false]),
            (vec![0.25, 0.75], Choice::Class(1))
        );
        assert_eq!(
            run(&f, &[0.5, 0.0], &[true, false]),
            (vec![0.5, 0.5], Choice::Class(0))
        );
    }

    #[test]
    fn boosting_binary_mirrors_the_margin() {
        let f = finish(&[0.5], true, false, PostTransform::Logistic);
        let (z, c) = run(&f, &[-1.0, 0.0], &[true, false]);
        assert_eq!(c, Choice::Class(0));
        assert!((z[1] - logistic(-0.5)).abs() < 1e-7 && (z[0] - logistic(0.5)).abs() < 1e-7);
        let f = finish(&[], true, false, PostTransform::None);
        assert_eq!(
            run(&f, &[2.0, 0.0], &[true, false]),
            (vec![-2.0, 2.0], Choice::Class(1))
        );
    }

    #[test]
    fn binary_with_two_base_values_uses_class_zero_sum() {
        let f = finish(&[0.1, 0.2], true, false, PostTransform::None);
        // Weights on class 1 only: its own sum is dropped, as in onnxruntime.
        assert_eq!(
            run(&f, &[0.0, 3.0], &[false, true]),
            (vec![0.0, 0.2], Choice::Class(1))
        );
    }

    #[test]
    fn two_classes_both_weighted_are_multiclass_like() {
        let f = finish(&[], false, true, PostTransform::None);
        let (z, c) = run(&f, &[0.7, 0.3], &[true, true]);
        assert_eq!(z, vec![0.7, 0.3]);
        // Not "binary": the label is the literal 1 when the class-1 score is positive.
        assert_eq!(c, Choice::Literal(true));
    }

    #[test]
    fn multiclass_ignores_classes_without_scores_for_the_label() {
        let f = ClassFinish {
            n_classes: 3,
            base_values: vec![],
            binary_case: false,
            weights_all_positive: false,
            transform: PostTransform::None,
        };
        let (z, c) = run(&f, &[-1.0, -2.0, 0.0], &[true, true, false]);
        assert_eq!((z, c), (vec![-1.0, -2.0, 0.0], Choice::Class(0)));
        let f = ClassFinish {
            base_values: vec![0.0, 0.0, 0.5],
            ..f
        };
        assert_eq!(
            run(&f, &[-1.0, -2.0, 0.0], &[true, true, false]).1,
            Choice::Class(2)
        );
    }

    #[test]
    fn multiclass_softmax_sums_to_one() {
        let f = ClassFinish {
            n_classes: 3,
            base_values: vec![0.1, 0.2, 0.3],
            binary_case: false,
            weights_all_positive: false,
            transform: PostTransform::Softmax,
        };
        let (z, c) = run(&f, &[1.0, 2.0, 0.5], &[true, true, true]);
        assert!((z.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(c, Choice::Class(1));
    }
}
