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

/// One class column's score before the post transform, as an affine function of the
/// forest's per-class sums: `offset + sign * sums[target]` (`target: None`: `offset`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassColumn {
    pub target: Option<usize>,
    pub sign: f64,
    pub offset: f64,
}

impl ClassColumn {
    fn of(target: usize, sign: f64, offset: f32) -> ClassColumn {
        ClassColumn {
            target: Some(target),
            sign,
            offset: offset as f64,
        }
    }

    fn constant(offset: f64) -> ClassColumn {
        ClassColumn {
            target: None,
            sign: 0.0,
            offset,
        }
    }
}

impl ClassFinish {
    /// What [`ClassFinish::row`] computes, as one affine map per class column followed by
    /// a transform (the one it actually applies), for rows where class `k` has a score
    /// exactly when `has[k]`. Mirrors `row` branch for branch (tested against it).
    pub fn columns(&self, has: &[bool]) -> (Vec<ClassColumn>, PostTransform) {
        let zero = ClassColumn::constant(0.0);
        if self.n_classes > 2 {
            let columns = (0..self.n_classes)
                .map(|k| match self.base_values.get(k) {
                    Some(&b) => ClassColumn::of(k, 1.0, b),
                    None if has[k] => ClassColumn::of(k, 1.0, 0.0),
                    None => zero,
                })
                .collect();
            return (columns, self.transform);
        }
        let (h0, h1) = (has[0], has[1]);
        let b = |k: usize| self.base_values.get(k).copied().unwrap_or(0.0);
        let if_h0 = |c: ClassColumn| if h0 { c } else { zero };
        let mut second = Second::Unset;
        // The score of class 0 when only one column is written (`v0` in `binary`).
        let v0 = match self.base_values.len() {
            2 if h1 => {
                let s1 = ClassColumn::of(0, 1.0, b(1));
                let s0 = ClassColumn::of(0, -1.0, -b(1));
                return (vec![if_h0(s0), s1], self.transform);
            }
            2 => {
                return (
                    vec![if_h0(ClassColumn::of(0, 1.0, b(0))), zero],
                    self.transform,
                );
            }
            1 if h1 => {
                let c0 = if_h0(ClassColumn::of(0, 1.0, b(0)));
                return (vec![c0, ClassColumn::of(1, 1.0, 0.0)], self.transform);
            }
            1 => if_h0(ClassColumn::of(0, 1.0, b(0))),
            _ if h1 => {
                let c0 = if_h0(ClassColumn::of(0, 1.0, 0.0));
                return (vec![c0, ClassColumn::of(1, 1.0, 0.0)], self.transform);
            }
            _ => {
                second = Second::Mirror;
                if_h0(ClassColumn::of(0, 1.0, 0.0))
            }
        };
        if self.binary_case {
            second = if self.weights_all_positive {
                Second::Complement
            } else {
                Second::Mirror
            };
        }
        let neg = ClassColumn {
            sign: -v0.sign,
            offset: -v0.offset,
            ..v0
        };
        match (self.transform, second) {
            (PostTransform::Probit, _) | (_, Second::Unset) => {
                (vec![v0, zero], PostTransform::None)
            }
            (PostTransform::Logistic, _) => (vec![neg, v0], PostTransform::Logistic),
            (_, Second::Complement) => (
                vec![
                    ClassColumn {
                        offset: 1.0 + neg.offset,
                        ..neg
                    },
                    v0,
                ],
                PostTransform::None,
            ),
            (_, Second::Mirror) => (vec![neg, v0], PostTransform::None),
        }
    }

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

    /// `columns` then its transform gives what `row` writes, over every configuration.
    #[test]
    fn columns_mirror_row() {
        let transforms = [
            PostTransform::None,
            PostTransform::Logistic,
            PostTransform::Softmax,
            PostTransform::SoftmaxZero,
            PostTransform::Probit,
        ];
        let bases: [&[f32]; 4] = [&[], &[0.25], &[0.25, -0.5], &[0.25, -0.5, 1.0]];
        let sums = [[0.3f32, -0.7, 1.1], [-1.3, 0.2, 0.0], [0.8, 0.9, -0.4]];
        for n in [2usize, 3] {
            for &t in &transforms {
                for base in bases.iter().filter(|b| b.len() <= n) {
                    for binary in [false, true] {
                        for positive in [false, true] {
                            for h in 0..(1 << n) {
                                let has: Vec<bool> = (0..n).map(|k| h & (1 << k) != 0).collect();
                                let f = ClassFinish {
                                    n_classes: n,
                                    base_values: base.to_vec(),
                                    binary_case: binary && n == 2,
                                    weights_all_positive: positive,
                                    transform: t,
                                };
                                let (columns, link) = f.columns(&has);
                                for s in &sums {
                                    // A class without a score sums to zero.
                                    let s: Vec<f32> =
                                        (0..n).map(|k| if has[k] { s[k] } else { 0.0 }).collect();
                                    let (z, _) = run(&f, &s, &has);
                                    let mut w: Vec<f32> = columns
                                        .iter()
                                        .map(|c| {
                                            (c.offset
                                                + c.target.map_or(0.0, |k| c.sign * s[k] as f64))
                                                as f32
                                        })
                                        .collect();
                                    link.apply(&mut w);
                                    for (a, b) in z.iter().zip(&w) {
                                        assert!(
                                            (a - b).abs() < 1e-6 || (a.is_nan() && b.is_nan()) || a == b,
                                            "{f:?} has {has:?} sums {s:?}: row {z:?}, columns {w:?}"
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
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
