//! Where the model comes from at cold start: an object fetched once, with the version it
//! was stored as.

use std::future::Future;
use std::time::{Duration, Instant};

use scoring::{LoadError, Model};

use crate::StoreError;

/// Model bytes plus the version they were stored as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelObject {
    pub bytes: Vec<u8>,
    pub version: String,
}

pub trait ModelSource: Send + Sync {
    /// Where the model is, for messages (`s3://bucket/key`).
    fn location(&self) -> String;
    fn fetch(&self) -> impl Future<Output = Result<ModelObject, StoreError>> + Send;
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
}

/// How long a cold start's model load took, by step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadTimes {
    pub fetch: Duration,
    pub build: Duration,
}

/// Fetches the model and builds it, once.
pub async fn load_model(source: &impl ModelSource) -> Result<Model, ModelLoadError> {
    load_model_timed(source).await.map(|(model, _)| model)
}

/// [`load_model`], with how long each step took.
pub async fn load_model_timed(
    source: &impl ModelSource,
) -> Result<(Model, LoadTimes), ModelLoadError> {
    let started = Instant::now();
    let object = source
        .fetch()
        .await
        .map_err(|source_error| ModelLoadError::Fetch {
            location: source.location(),
            source: source_error,
        })?;
    let fetched = Instant::now();
    let model =
        Model::load(&object.bytes, object.version).map_err(|e| ModelLoadError::Invalid {
            location: source.location(),
            source: e,
        })?;
    let times = LoadTimes {
        fetch: fetched - started,
        build: fetched.elapsed(),
    };
    Ok((model, times))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct InMemoryModelSource(pub Result<ModelObject, StoreError>);

    impl ModelSource for InMemoryModelSource {
        fn location(&self) -> String {
            "memory://model".to_owned()
        }

        async fn fetch(&self) -> Result<ModelObject, StoreError> {
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn errors_name_the_location_and_the_reason() {
        let missing = InMemoryModelSource(Err(StoreError::not_found("no such key")));
        let err = load_model(&missing).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot load the model from memory://model: no such key"
        );

        let corrupt = InMemoryModelSource(Ok(ModelObject {
            bytes: b"garbage".to_vec(),
            version: "1".into(),
        }));
        let err = load_model(&corrupt).await.unwrap_err();
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
}
