//! Configuration from the environment, read once at cold start. A missing or malformed
//! variable fails the start with its name.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is {value:?}: {problem}")]
    Invalid {
        name: &'static str,
        value: String,
        problem: String,
    },
}

/// Why a cold start fails: the function never serves without its configuration and model.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Model(#[from] store::model_source::ModelLoadError),
    /// Explanations were asked for (`EXPLAIN_TOP_K` above 0) from a model that cannot give
    /// them: the model's reason, which says how to add what it lacks.
    #[error("EXPLAIN_TOP_K is {top_k}, but the model cannot explain its answers: {reason}; set EXPLAIN_TOP_K to 0 to run without explanations")]
    Unexplainable { top_k: usize, reason: String },
}

/// The most contributions `EXPLAIN_TOP_K` may ask the batch to store per row: each costs
/// an item about 30 bytes of write units, and past a few dozen a list stops being an
/// answer to "why this score?".
pub const MAX_EXPLAIN_TOP_K: usize = 50;

/// Where the model object lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLocation {
    pub bucket: String,
    pub key: String,
}

/// The online prediction function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictConfig {
    pub model: ModelLocation,
    pub attributes_table: String,
    /// Where the nightly results are read back from (`GET /predictions/{product_id}`).
    pub predictions_table: String,
    /// The batch's run summaries, in the model bucket (`RUNS_PREFIX`, default
    /// `batch-runs/`): `<prefix>latest.json` names the latest completed run.
    pub runs_prefix: String,
    /// The model's name in the Open Inference Protocol routes (`/v2/models/{name}/...`):
    /// `MODEL_NAME`, 1 to 128 characters of `A-Z a-z 0-9 _ . -`.
    pub model_name: String,
    /// A second model scored beside the champion on every request, never answered unless
    /// asked for (`CHALLENGER_MODEL_KEY`, in the model's bucket; unset or blank: none).
    pub challenger: Option<ModelLocation>,
}

/// The longest `MODEL_NAME`.
pub const MAX_MODEL_NAME_CHARS: usize = 128;

/// Why `name` cannot be a model name: it goes into URL paths unencoded, so only
/// characters that need no percent-encoding (and no `/`).
pub fn model_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_MODEL_NAME_CHARS {
        return Some(format!(
            "must be 1 to {MAX_MODEL_NAME_CHARS} characters (it is {})",
            name.chars().count()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Some(format!(
            "{c:?} is not allowed; use only letters A-Z a-z, digits, '_', '.' and '-'"
        ));
    }
    if name == "." || name == ".." {
        return Some("'.' and '..' are path segments clients resolve away".into());
    }
    None
}

impl PredictConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let model = env.model()?;
        let attributes_table = env.required("ATTRIBUTES_TABLE")?;
        let model_name = env.required("MODEL_NAME")?;
        if let Some(problem) = model_name_problem(&model_name) {
            return Err(ConfigError::Invalid {
                name: "MODEL_NAME",
                value: model_name,
                problem,
            });
        }
        Ok(PredictConfig {
            model,
            attributes_table,
            predictions_table: env.required("PREDICTIONS_TABLE")?,
            runs_prefix: env.runs_prefix()?,
            challenger: env.challenger()?,
            model_name,
        })
    }

    /// The challenger's name in the Open Inference Protocol routes: the champion's with
    /// `-challenger` appended (a valid name too: the suffix uses only allowed characters).
    pub fn challenger_name(&self) -> String {
        challenger_name(&self.model_name)
    }
}

/// The challenger's name in the Open Inference Protocol routes, for a champion named
/// `model_name`.
pub fn challenger_name(model_name: &str) -> String {
    format!("{model_name}-challenger")
}

/// The batch scoring function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchConfig {
    pub model: ModelLocation,
    pub attributes_table: String,
    pub predictions_table: String,
    /// Parallel Scan segments (`SCAN_SEGMENTS`, default 4).
    pub scan_segments: u32,
    /// Run summaries go to `s3://<model bucket>/<RUNS_PREFIX><run_id>.json` and
    /// `<RUNS_PREFIX>latest.json` (default `batch-runs/`).
    pub runs_prefix: String,
    /// Stop reading this long before the invocation's deadline and return the slice's
    /// cursor, for the state machine to go round again (`DEADLINE_MARGIN_SECONDS`; unset:
    /// the least the function needs, see [`BatchConfig::deadline_margin`]).
    pub deadline_margin_seconds: Option<u64>,
    /// The state machine that runs a night's slices (`STATE_MACHINE_ARN`). Unset: the
    /// scheduled event scores the whole table in its one invocation.
    pub state_machine_arn: Option<String>,
    /// Slices run at once, each by its own invocation (`BATCH_WORKERS`, default 1): the
    /// scan's segments are dealt out among them (so no more slices than segments).
    pub workers: u32,
    /// Contributions stored per result, largest by absolute value first (`EXPLAIN_TOP_K`,
    /// 0 to [`MAX_EXPLAIN_TOP_K`], default 0: none, the run as without explanations).
    pub explain_top_k: usize,
    /// A second model whose answers are stored beside the champion's and compared
    /// (`CHALLENGER_MODEL_KEY`, in the model's bucket; unset or blank: none).
    pub challenger: Option<ModelLocation>,
}

impl BatchConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let scan_segments = env.parsed_or("SCAN_SEGMENTS", 4u32)?;
        if !(1..=1_000_000).contains(&scan_segments) {
            return Err(ConfigError::Invalid {
                name: "SCAN_SEGMENTS",
                value: scan_segments.to_string(),
                problem: "must be between 1 and 1000000".into(),
            });
        }
        let workers = env.parsed_or("BATCH_WORKERS", 1u32)?;
        if workers == 0 {
            return Err(ConfigError::Invalid {
                name: "BATCH_WORKERS",
                value: workers.to_string(),
                problem: "must be at least 1".into(),
            });
        }
        let explain_top_k = env.parsed_or("EXPLAIN_TOP_K", 0usize)?;
        if explain_top_k > MAX_EXPLAIN_TOP_K {
            return Err(ConfigError::Invalid {
                name: "EXPLAIN_TOP_K",
                value: explain_top_k.to_string(),
                problem: format!("must be between 0 (no explanations) and {MAX_EXPLAIN_TOP_K}"),
            });
        }
        Ok(BatchConfig {
            model: env.model()?,
            attributes_table: env.required("ATTRIBUTES_TABLE")?,
            predictions_table: env.required("PREDICTIONS_TABLE")?,
            scan_segments,
            runs_prefix: env.runs_prefix()?,
            deadline_margin_seconds: env
                .optional("DEADLINE_MARGIN_SECONDS")
                .map(|_| env.parsed_or("DEADLINE_MARGIN_SECONDS", 0u64))
                .transpose()?,
            state_machine_arn: env.optional("STATE_MACHINE_ARN"),
            workers,
            explain_top_k,
            challenger: env.challenger()?,
        })
    }
}

impl BatchConfig {
    /// The margin to stop reading at: the configured one, or `least` (what a page in flight,
    /// the slice's figures and the answer need before the deadline, as the batch function
    /// works it out) when unset or smaller. A smaller one would let a slow page run into
    /// the deadline guard, and the slice's work be done again: it is raised, with a warning.
    pub fn deadline_margin(&self, least: Duration) -> Duration {
        let least = Duration::from_secs(least.as_secs_f64().ceil() as u64);
        match self.deadline_margin_seconds.map(Duration::from_secs) {
            Some(margin) if margin >= least => margin,
            Some(margin) => {
                tracing::warn!(
                    configured_s = margin.as_secs(),
                    raised_to_s = least.as_secs(),
                    "DEADLINE_MARGIN_SECONDS is less than a slow page, the slice's figures and the answer may need before the deadline: raised"
                );
                least
            }
            None => least,
        }
    }
}

/// Reads variables through `lookup`, so tests need not touch the process environment.
pub(crate) struct Env<'a>(pub(crate) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    pub(crate) fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        match (self.0)(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(ConfigError::Missing(name)),
        }
    }

    /// `None` when unset or blank.
    pub(crate) fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// `default` when unset; an error naming the variable when set but unparsable.
    pub(crate) fn parsed_or<T: FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: Display,
    {
        match (self.0)(name) {
            None => Ok(default),
            Some(v) if v.trim().is_empty() => Ok(default),
            Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                value: v.clone(),
                problem: e.to_string(),
            }),
        }
    }

    pub(crate) fn runs_prefix(&self) -> Result<String, ConfigError> {
        self.parsed_or("RUNS_PREFIX", "batch-runs/".to_owned())
    }

    /// The challenger's location: `CHALLENGER_MODEL_KEY` in `MODEL_BUCKET`; `None` when the
    /// key is unset or blank.
    pub(crate) fn challenger(&self) -> Result<Option<ModelLocation>, ConfigError> {
        let Some(key) = self.optional("CHALLENGER_MODEL_KEY") else {
            return Ok(None);
        };
        Ok(Some(ModelLocation {
            bucket: self.required("MODEL_BUCKET")?,
            key: key.trim().to_owned(),
        }))
    }

    pub(crate) fn model(&self) -> Result<ModelLocation, ConfigError> {
        Ok(ModelLocation {
            bucket: self.required("MODEL_BUCKET")?,
            key: self.required("MODEL_KEY")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn predict_config_reads_its_four_variables() {
        let config = PredictConfig::from_lookup(lookup(&[
            ("MODEL_BUCKET", "models"),
            ("MODEL_KEY", "wine/v1.onnx"),
            ("ATTRIBUTES_TABLE", "attributes"),
            ("PREDICTIONS_TABLE", "predictions"),
            ("MODEL_NAME", "wine-quality"),
        ]))
        .unwrap();
        assert_eq!(config.model_name, "wine-quality");
        assert_eq!(
            (
                config.predictions_table.as_str(),
                config.runs_prefix.as_str()
            ),
            ("predictions", "batch-runs/")
        );
        assert_eq!(
            config.model,
            ModelLocation {
                bucket: "models".into(),
                key: "wine/v1.onnx".into()
            }
        );
        assert_eq!(config.attributes_table, "attributes");
        assert_eq!(config.challenger, None);
    }

    #[test]
    fn a_challenger_is_read_from_its_key_in_the_models_bucket() {
        let vars = [
            ("MODEL_BUCKET", "models"),
            ("MODEL_KEY", "wine/v1.onnx"),
            ("ATTRIBUTES_TABLE", "attributes"),
            ("PREDICTIONS_TABLE", "predictions"),
            ("MODEL_NAME", "wine-quality"),
            ("CHALLENGER_MODEL_KEY", "wine/v2.onnx"),
        ];
        let challenger = Some(ModelLocation {
            bucket: "models".into(),
            key: "wine/v2.onnx".into(),
        });
        let predict = PredictConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(predict.challenger, challenger);
        assert_eq!(predict.challenger_name(), "wine-quality-challenger");
        assert_eq!(model_name_problem(&predict.challenger_name()), None);
        let batch = BatchConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(batch.challenger, challenger);
        // Blank is none, as the template's default "" sets it.
        let mut blank = vars;
        blank[5].1 = " ";
        assert_eq!(
            PredictConfig::from_lookup(lookup(&blank))
                .unwrap()
                .challenger,
            None
        );
        assert_eq!(
            BatchConfig::from_lookup(lookup(&blank)).unwrap().challenger,
            None
        );
    }

    #[test]
    fn a_missing_or_blank_variable_is_named() {
        let err = PredictConfig::from_lookup(lookup(&[("MODEL_BUCKET", "m"), ("MODEL_KEY", " ")]))
            .unwrap_err();
        assert_eq!(err, ConfigError::Missing("MODEL_KEY"));
        assert_eq!(err.to_string(), "environment variable MODEL_KEY is not set");
    }

    #[test]
    fn the_model_name_is_required_and_checked() {
        let base = [
            ("MODEL_BUCKET", "m"),
            ("MODEL_KEY", "k"),
            ("ATTRIBUTES_TABLE", "a"),
            ("PREDICTIONS_TABLE", "p"),
        ];
        assert_eq!(
            PredictConfig::from_lookup(lookup(&base)).unwrap_err(),
            ConfigError::Missing("MODEL_NAME")
        );
        let longest = "n".repeat(MAX_MODEL_NAME_CHARS);
        for good in ["wine-quality", "a", "Wine_Good.v2", "1", longest.as_str()] {
            let mut vars = base.to_vec();
            vars.push(("MODEL_NAME", good));
            assert_eq!(
                PredictConfig::from_lookup(lookup(&vars))
                    .unwrap()
                    .model_name,
                good
            );
        }
        let too_long = "n".repeat(MAX_MODEL_NAME_CHARS + 1);
        for (bad, says) in [
            ("wine quality", "' ' is not allowed"),
            ("wine/quality", "'/' is not allowed"),
            ("vin-rouge-\u{e9}", "is not allowed"),
            ("..", "resolve away"),
            (too_long.as_str(), "must be 1 to 128 characters (it is 129)"),
        ] {
            let mut vars = base.to_vec();
            vars.push(("MODEL_NAME", bad));
            let err = PredictConfig::from_lookup(lookup(&vars)).unwrap_err();
            assert!(
                matches!(
                    &err,
                    ConfigError::Invalid {
                        name: "MODEL_NAME",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn batch_config_defaults_and_bounds() {
        let base = [
            ("MODEL_BUCKET", "m"),
            ("MODEL_KEY", "k"),
            ("ATTRIBUTES_TABLE", "a"),
            ("PREDICTIONS_TABLE", "p"),
        ];
        let config = BatchConfig::from_lookup(lookup(&base)).unwrap();
        assert_eq!(
            (
                config.scan_segments,
                config.runs_prefix.as_str(),
                config.deadline_margin_seconds,
                config.state_machine_arn.as_deref(),
                config.workers
            ),
            (4, "batch-runs/", None, None, 1)
        );
        let least = Duration::from_millis(382_500);
        assert_eq!(config.deadline_margin(least), Duration::from_secs(383));
        for (configured, margin) in [("60", 383), ("383", 383), ("500", 500)] {
            let mut vars = base.to_vec();
            vars.push(("DEADLINE_MARGIN_SECONDS", configured));
            let config = BatchConfig::from_lookup(lookup(&vars)).unwrap();
            assert_eq!(
                config.deadline_margin(least),
                Duration::from_secs(margin),
                "{configured}"
            );
        }
        let mut unreadable = base.to_vec();
        unreadable.push(("DEADLINE_MARGIN_SECONDS", "a minute"));
        assert!(matches!(
            BatchConfig::from_lookup(lookup(&unreadable)),
            Err(ConfigError::Invalid {
                name: "DEADLINE_MARGIN_SECONDS",
                ..
            })
        ));
        let mut none = base.to_vec();
        none.push(("BATCH_WORKERS", "0"));
        assert!(matches!(
            BatchConfig::from_lookup(lookup(&none)),
            Err(ConfigError::Invalid {
                name: "BATCH_WORKERS",
                ..
            })
        ));
        let mut fanned_out = base.to_vec();
        fanned_out.extend([("BATCH_WORKERS", "4"), ("STATE_MACHINE_ARN", "arn:sm")]);
        let config = BatchConfig::from_lookup(lookup(&fanned_out)).unwrap();
        assert_eq!(
            (config.workers, config.state_machine_arn.as_deref()),
            (4, Some("arn:sm"))
        );
        let mut zero = base.to_vec();
        zero.push(("SCAN_SEGMENTS", "0"));
        assert!(matches!(
            BatchConfig::from_lookup(lookup(&zero)),
            Err(ConfigError::Invalid {
                name: "SCAN_SEGMENTS",
                ..
            })
        ));
        assert_eq!(
            BatchConfig::from_lookup(lookup(&base[..3])).unwrap_err(),
            ConfigError::Missing("PREDICTIONS_TABLE")
        );
    }

    #[test]
    fn explain_top_k_is_off_by_default_and_bounded() {
        let base = [
            ("MODEL_BUCKET", "m"),
            ("MODEL_KEY", "k"),
            ("ATTRIBUTES_TABLE", "a"),
            ("PREDICTIONS_TABLE", "p"),
        ];
        assert_eq!(
            BatchConfig::from_lookup(lookup(&base))
                .unwrap()
                .explain_top_k,
            0
        );
        let max = MAX_EXPLAIN_TOP_K.to_string();
        for (value, k) in [("0", 0), ("", 0), ("3", 3), (" 5 ", 5), (max.as_str(), 50)] {
            let mut vars = base.to_vec();
            vars.push(("EXPLAIN_TOP_K", value));
            assert_eq!(
                BatchConfig::from_lookup(lookup(&vars))
                    .unwrap()
                    .explain_top_k,
                k,
                "{value:?}"
            );
        }
        for (value, says) in [
            ("51", "must be between 0 (no explanations) and 50"),
            ("1000000", "must be between 0"),
            ("-1", "invalid digit"),
            ("five", "invalid digit"),
            ("2.5", "invalid digit"),
        ] {
            let mut vars = base.to_vec();
            vars.push(("EXPLAIN_TOP_K", value));
            let err = BatchConfig::from_lookup(lookup(&vars)).unwrap_err();
            assert!(
                matches!(
                    &err,
                    ConfigError::Invalid {
                        name: "EXPLAIN_TOP_K",
                        ..
                    }
                ),
                "{value}: {err}"
            );
            assert!(err.to_string().contains(says), "{value}: {err}");
        }
    }

    #[test]
    fn an_unexplainable_model_is_refused_with_its_reason_and_the_way_out() {
        let err = InitError::Unexplainable {
            top_k: 5,
            reason: "the model card has no node covers".into(),
        };
        assert_eq!(
            err.to_string(),
            "EXPLAIN_TOP_K is 5, but the model cannot explain its answers: the model card has \
             no node covers; set EXPLAIN_TOP_K to 0 to run without explanations"
        );
    }

    #[test]
    fn parsed_values_have_defaults_and_named_errors() {
        let f = lookup(&[("N", "x")]);
        let env = Env(&f);
        assert_eq!(env.parsed_or("UNSET", 4u32).unwrap(), 4);
        let err = env.parsed_or("N", 4u32).unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { name: "N", .. }),
            "{err}"
        );
    }
}
