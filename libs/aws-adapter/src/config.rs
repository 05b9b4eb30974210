//! Configuration from the environment, read once at cold start. A missing or malformed
//! variable fails the start with its name.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use scoring::LoadBudget;

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
    /// How large a model the function's memory can load (see [`Env::load_budget`]).
    pub load_budget: LoadBudget,
    /// Where `POST /outcomes` writes (`OUTCOMES_TABLE`; unset or blank: the route answers
    /// 404, saying the stack has no outcomes table).
    pub outcomes_table: Option<String>,
    /// How long an outcome is kept before DynamoDB's TTL deletes it
    /// (`OUTCOME_RETENTION_DAYS`, 1 to [`MAX_OUTCOME_RETENTION_DAYS`], default
    /// [`DEFAULT_OUTCOME_RETENTION_DAYS`]).
    pub outcome_retention_days: u32,
    /// The share of scoring requests captured (`CAPTURE_RATE`, 0 to 1; unset: 0, none).
    pub capture_rate: CaptureRate,
}

/// The share of scoring requests whose inputs and answers are written to the log for
/// delivery to the capture bucket: `CAPTURE_RATE`, a number from 0 (none, the default:
/// captures hold customers' data) to 1 (every request).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CaptureRate(f64);

// Never NaN: `parse` refuses it.
impl Eq for CaptureRate {}

impl CaptureRate {
    pub const OFF: CaptureRate = CaptureRate(0.0);
    pub const ALL: CaptureRate = CaptureRate(1.0);

    /// `rate` if it is a share (0 to 1), else why not.
    pub fn new(rate: f64) -> Result<CaptureRate, String> {
        if (0.0..=1.0).contains(&rate) {
            Ok(CaptureRate(rate))
        } else {
            Err(format!(
                "must be a number from 0 (capture nothing) to 1 (capture every request), not {rate}"
            ))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for CaptureRate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rate: f64 = s.parse().map_err(|_| {
            "must be a number from 0 (capture nothing) to 1 (capture every request)".to_owned()
        })?;
        CaptureRate::new(rate)
    }
}

/// How long outcomes are kept unless `OUTCOME_RETENTION_DAYS` says otherwise (the
/// template's `OutcomeRetentionDays` default).
pub const DEFAULT_OUTCOME_RETENTION_DAYS: u32 = 400;

/// The longest `OUTCOME_RETENTION_DAYS` (100 years).
pub const MAX_OUTCOME_RETENTION_DAYS: u32 = 36_500;

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
        let outcome_retention_days =
            env.parsed_or("OUTCOME_RETENTION_DAYS", DEFAULT_OUTCOME_RETENTION_DAYS)?;
        if !(1..=MAX_OUTCOME_RETENTION_DAYS).contains(&outcome_retention_days) {
            return Err(ConfigError::Invalid {
                name: "OUTCOME_RETENTION_DAYS",
                value: outcome_retention_days.to_string(),
                problem: format!("must be between 1 and {MAX_OUTCOME_RETENTION_DAYS}"),
            });
        }
        Ok(PredictConfig {
            model,
            attributes_table,
            predictions_table: env.required("PREDICTIONS_TABLE")?,
            runs_prefix: env.runs_prefix()?,
            challenger: env.challenger()?,
            load_budget: env.load_budget()?,
            capture_rate: env.parsed_or("CAPTURE_RATE", CaptureRate::OFF)?,
            model_name,
            outcomes_table: env.optional("OUTCOMES_TABLE"),
            outcome_retention_days,
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
    /// How large a model the function's memory can load (see [`Env::load_budget`]).
    pub load_budget: LoadBudget,
    /// The outcomes the nightly run joins with its predictions (`OUTCOMES_TABLE`; unset
    /// or blank: no join, no accuracy in the summary).
    pub outcomes_table: Option<String>,
    /// Where captured requests are read back for the join (`CAPTURE_BUCKET`; unset:
    /// outcomes are joined with the stored nightly results only).
    pub capture_bucket: Option<String>,
    /// `CAPTURE_PREFIX`, default `captures/`.
    pub capture_prefix: String,
    /// How far before the earliest outcome captures are read, and how far back the first
    /// join reaches (`CAPTURE_LOOKBACK_DAYS`, 0 to [`MAX_CAPTURE_LOOKBACK_DAYS`], default 7).
    pub capture_lookback_days: u32,
}

/// The longest `CAPTURE_LOOKBACK_DAYS`: a year of captures is more than a night's join
/// should read.
pub const MAX_CAPTURE_LOOKBACK_DAYS: u32 = 366;

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
        let capture_lookback_days = env.parsed_or("CAPTURE_LOOKBACK_DAYS", 7u32)?;
        if capture_lookback_days > MAX_CAPTURE_LOOKBACK_DAYS {
            return Err(ConfigError::Invalid {
                name: "CAPTURE_LOOKBACK_DAYS",
                value: capture_lookback_days.to_string(),
                problem: format!("must be between 0 and {MAX_CAPTURE_LOOKBACK_DAYS}"),
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
            load_budget: env.load_budget()?,
            outcomes_table: env.optional("OUTCOMES_TABLE"),
            capture_bucket: env.optional("CAPTURE_BUCKET"),
            capture_prefix: env
                .optional("CAPTURE_PREFIX")
                .unwrap_or_else(|| "captures/".into()),
            capture_lookback_days,
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

    /// The function's memory, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB), which Lambda sets
    /// from the template's `MemorySize`: models too large for it are refused before they
    /// are downloaded. Unset (outside Lambda): no limit.
    pub(crate) fn load_budget(&self) -> Result<LoadBudget, ConfigError> {
        const NAME: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
        match self.optional(NAME) {
            None => Ok(LoadBudget::unlimited()),
            Some(_) => Ok(LoadBudget::for_memory_mb(self.parsed_or(NAME, 0u64)?)),
        }
    }

    pub(crate) fn model(&self) -> Result<ModelLocation, ConfigError> {
        Ok(ModelLocation {
            bucket: self.required("MODEL_BUCKET")?,
            key: self.required("MODEL_KEY")?,
        })
    }
}

#[cfg(test)]
mod tests;
