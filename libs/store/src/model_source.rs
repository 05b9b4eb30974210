//! Where the model comes from at cold start: an object fetched once, with the version it
//! was stored as.

use std::future::Future;
use std::time::{Duration, Instant};

use scoring::{LoadBudget, LoadError, Model, TooLarge};

use crate::{ErrorKind, StoreError};

/// Model bytes plus the version they were stored as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelObject {
    pub bytes: Vec<u8>,
    pub version: String,
}

pub trait ModelSource: Send + Sync {
    /// Where the model is, for messages (`s3://bucket/key`).
    fn location(&self) -> String;
    /// The object, or a `TooLarge` error, before its body is read, when it is longer than
    /// `max_bytes` (a source that cannot tell the size first may return it: the loader
    /// checks the bytes it gets).
    fn fetch(&self, max_bytes: u64)
        -> impl Future<Output = Result<ModelObject, StoreError>> + Send;
}

/// The function never serves without a model: this error fails the cold start, naming
/// where the model was looked for and why it could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelLoadError {
    #[error("cannot load the model from {location}: {source}")]
    Fetch {
        location: String,
        source: StoreError,
    },
    #[error("cannot load the model from {location}: {source}")]
    Invalid { location: String, source: LoadError },
    /// Refused before it was read: it would not fit the function's memory or init time.
    #[error("cannot load the model from {location}: {source}")]
    TooLarge { location: String, source: TooLarge },
}

/// How long a cold start's model load took, by step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadTimes {
    pub fetch: Duration,
    pub build: Duration,
}

/// What a cold start with a challenger loads: the champion, which the function cannot
/// serve without, and the challenger's outcome, which it can (`None`: none configured).
pub type LoadedPair = (
    Model,
    LoadTimes,
    Option<Result<(Model, LoadTimes), ModelLoadError>>,
);

/// Loads the champion and, when there is one, the challenger: both downloads at once, then
/// the champion built, then the challenger, so a challenger adds at most its own load
/// time. Fails only for the champion; the challenger's failure is handed back for the
/// caller to log and count while the champion serves on.
///
/// Each model is checked against `budget` before its body is read (see [`LoadBudget`]).
pub async fn load_pair_timed(
    champion: &impl ModelSource,
    challenger: Option<&impl ModelSource>,
    budget: &LoadBudget,
) -> Result<LoadedPair, ModelLoadError> {
    let started = Instant::now();
    let (object, other) = futures_util::future::join(
        fetch(champion, budget),
        futures_util::future::OptionFuture::from(challenger.map(|c| async move {
            let started = Instant::now();
            (c, fetch(c, budget).await, started.elapsed())
        })),
    )
    .await;
    let fetched = started.elapsed();
    let (model, times) = build(champion, object?, fetched)?;
    let challenger =
        other.map(|(source, object, fetch)| object.and_then(|object| build(source, object, fetch)));
    Ok((model, times, challenger))
}

async fn fetch(
    source: &impl ModelSource,
    budget: &LoadBudget,
) -> Result<ModelObject, ModelLoadError> {
    let too_large = |bytes: u64| -> Option<ModelLoadError> {
        budget
            .admit(bytes)
            .err()
            .map(|refusal| ModelLoadError::TooLarge {
                location: source.location(),
                source: refusal,
            })
    };
    let object = source.fetch(budget.max_model_bytes()).await.map_err(|e| {
        match e.kind {
            ErrorKind::TooLarge { bytes } => too_large(bytes),
            _ => None,
        }
        .unwrap_or_else(|| ModelLoadError::Fetch {
            location: source.location(),
            source: e,
        })
    })?;
    match too_large(object.bytes.len() as u64) {
        Some(refusal) => Err(refusal),
        None => Ok(object),
    }
}

fn build(
    source: &impl ModelSource,
    object: ModelObject,
    fetch: Duration,
) -> Result<(Model, LoadTimes), ModelLoadError> {
    let started = Instant::now();
    let model =
        Model::load(&object.bytes, object.version).map_err(|e| ModelLoadError::Invalid {
            location: source.location(),
            source: e,
        })?;
    let times = LoadTimes {
        fetch,
        build: started.elapsed(),
    };
    Ok((model, times))
}

/// Fetches the model and builds it, once, if it fits `budget`.
pub async fn load_model(
    source: &impl ModelSource,
    budget: &LoadBudget,
) -> Result<Model, ModelLoadError> {
    load_model_timed(source, budget)
        .await
        .map(|(model, _)| model)
}

/// [`load_model`], with how long each step took.
pub async fn load_model_timed(
    source: &impl ModelSource,
    budget: &LoadBudget,
) -> Result<(Model, LoadTimes), ModelLoadError> {
    let started = Instant::now();
    let object = fetch(source, budget).await?;
    build(source, object, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct InMemoryModelSource(pub Result<ModelObject, StoreError>);

    impl ModelSource for InMemoryModelSource {
        fn location(&self) -> String {
            match &self.0 {
                Ok(object) => format!("memory://{}", object.version),
                Err(_) => "memory://model".to_owned(),
            }
        }

        async fn fetch(&self, _max_bytes: u64) -> Result<ModelObject, StoreError> {
            // Cannot tell the size first: the loader checks what it gets.
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn errors_name_the_location_and_the_reason() {
        let missing = InMemoryModelSource(Err(StoreError::not_found("no such key")));
        let err = load_model(&missing, &LoadBudget::unlimited())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot load the model from memory://model: no such key"
        );

        let corrupt = InMemoryModelSource(Ok(ModelObject {
            bytes: b"garbage".to_vec(),
            version: "1".into(),
        }));
        let err = load_model(&corrupt, &LoadBudget::unlimited())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ModelLoadError::Invalid {
                    source: LoadError::Corrupt(_),
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("not a readable ONNX model"),
            "{err}"
        );
    }

    fn demo() -> InMemoryModelSource {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../model/wine_quality.onnx");
        InMemoryModelSource(Ok(ModelObject {
            bytes: std::fs::read(path).unwrap(),
            version: "champion".into(),
        }))
    }

    #[tokio::test]
    async fn a_challenger_that_fails_to_load_leaves_the_champion_loaded() {
        let broken = InMemoryModelSource(Ok(ModelObject {
            bytes: b"not a model".to_vec(),
            version: "broken".into(),
        }));
        let (model, _, challenger) =
            load_pair_timed(&demo(), Some(&broken), &LoadBudget::unlimited())
                .await
                .unwrap();
        assert_eq!(model.version(), "champion");
        let err = challenger.expect("configured").expect_err("refused");
        assert!(err.to_string().contains("memory://broken"), "{err}");

        let missing = InMemoryModelSource(Err(StoreError::not_found("no such key")));
        let (_, _, challenger) = load_pair_timed(&demo(), Some(&missing), &LoadBudget::unlimited())
            .await
            .unwrap();
        assert!(matches!(
            challenger,
            Some(Err(ModelLoadError::Fetch { .. }))
        ));

        let none: Option<&InMemoryModelSource> = None;
        let (_, _, challenger) = load_pair_timed(&demo(), none, &LoadBudget::unlimited())
            .await
            .unwrap();
        assert!(challenger.is_none());
    }

    #[tokio::test]
    async fn both_load_and_the_champion_failing_fails_the_pair() {
        let other = InMemoryModelSource(Ok(ModelObject {
            version: "challenger".into(),
            ..demo().0.unwrap()
        }));
        let (model, _, challenger) =
            load_pair_timed(&demo(), Some(&other), &LoadBudget::unlimited())
                .await
                .unwrap();
        assert_eq!(model.version(), "champion");
        assert_eq!(challenger.unwrap().unwrap().0.version(), "challenger");

        let missing = InMemoryModelSource(Err(StoreError::not_found("no such key")));
        assert!(
            load_pair_timed(&missing, Some(&other), &LoadBudget::unlimited())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_model_too_large_for_the_memory_is_refused_naming_the_setting() {
        let big = InMemoryModelSource(Ok(ModelObject {
            bytes: vec![0; 60_000_000],
            version: "big".into(),
        }));
        let budget = LoadBudget::for_memory_mb(128);
        let err = load_model(&big, &budget).await.unwrap_err();
        assert!(matches!(err, ModelLoadError::TooLarge { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("memory://big"), "{message}");
        assert!(message.contains("60.0 MB"), "{message}");
        assert!(message.contains("MemorySize"), "{message}");

        // A source that knows the size refuses before reading: the loader names it alike.
        let told = InMemoryModelSource(Err(StoreError::too_large(60_000_000, 1)));
        let err = load_model(&told, &budget).await.unwrap_err();
        assert!(matches!(err, ModelLoadError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("60.0 MB"), "{err}");

        // The demo model fits the smallest function.
        assert!(load_model(&demo(), &budget).await.is_ok());
        // A challenger too large is handed back; the champion serves.
        let (_, _, challenger) = load_pair_timed(&demo(), Some(&big), &budget).await.unwrap();
        assert!(matches!(
            challenger,
            Some(Err(ModelLoadError::TooLarge { .. }))
        ));
    }
}
