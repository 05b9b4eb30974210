//! A linear model's exact explanation: output k = intercept_k + Σ_j coef_kj · x_j, so
//! column j contributes coef_kj · (x_j − mean_j) and the base value is the output at the
//! training means. `LinearRegressor` and `LinearClassifier` (its scores before the post
//! transform).

use tract_onnx::pb::NodeProto;

#[derive(Clone, Debug)]
pub(crate) struct Linear {
    /// Outputs × columns.
    coefficients: Vec<f64>,
    means: Vec<f64>,
    /// Per output: its value at the means.
    expected: Vec<f64>,
    /// Its post_transform is LOGISTIC.
    logistic: bool,
}

impl Linear {
    /// The op `node` with the training means of its input columns; `Err` says what does
    /// not fit.
    pub(crate) fn new(node: &NodeProto, means: &[f64]) -> Result<Linear, String> {
        let floats = |name: &str| -> Result<Vec<f64>, String> {
            let v: Option<Vec<f32>> = node.get_attr_opt_vec(name).map_err(|e| format!("{e:#}"))?;
            Ok(v.unwrap_or_default().into_iter().map(f64::from).collect())
        };
        let coefficients = floats("coefficients")?;
        let mut intercepts = floats("intercepts")?;
        let outputs = match node.op_type.as_str() {
            "LinearRegressor" => {
                let targets: Option<i64> =
                    node.get_attr_opt("targets").map_err(|e| format!("{e:#}"))?;
                targets.unwrap_or(1).max(1) as usize
            }
            // onnxruntime counts a classifier's models by its intercepts.
            _ => intercepts.len().max(1),
        };
        if intercepts.is_empty() {
            intercepts = vec![0.0; outputs];
        }
        let cols = means.len();
        if intercepts.len() != outputs || coefficients.len() != outputs * cols {
            return Err(format!(
                "{} coefficients and {} intercepts do not make {outputs} outputs of the \
                 {cols} input columns the model card has means for",
                coefficients.len(),
                intercepts.len()
            ));
        }
        let expected = (0..outputs)
            .map(|k| {
                let row = &coefficients[k * cols..(k + 1) * cols];
                intercepts[k] + row.iter().zip(means).map(|(c, m)| c * m).sum::<f64>()
            })
            .collect();
        let transform: Option<String> = node
            .get_attr_opt("post_transform")
            .map_err(|e| format!("{e:#}"))?
            .map(str::to_owned);
        Ok(Linear {
            coefficients,
            means: means.to_vec(),
            expected,
            logistic: transform.as_deref() == Some("LOGISTIC"),
        })
    }

    pub(crate) fn logistic(&self) -> bool {
        self.logistic
    }

    pub(crate) fn expected_values(&self) -> &[f64] {
        &self.expected
    }

    /// Writes the row's contributions, outputs × columns, into `out`.
    pub(crate) fn contributions(&self, x: &[f32], out: &mut [f64]) {
        let cols = self.means.len();
        for (k, out_k) in out.chunks_exact_mut(cols).enumerate() {
            let coefficients = &self.coefficients[k * cols..(k + 1) * cols];
            for j in 0..cols {
                out_k[j] = coefficients[j] * (f64::from(x[j]) - self.means[j]);
            }
        }
    }
}
