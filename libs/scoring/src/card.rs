//! The model card: what the runtime needs to watch a model, written into the ONNX file's
//! metadata (key [`MODEL_CARD_KEY`], one JSON value) at training time: per numeric feature
//! its training profile, and the training distribution of the answer. Optional: a model
//! without it loads and serves, with nothing to compare its inputs and answers against.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::feature::FeatureType;
use crate::profile::Profile;
use crate::schema::FeatureSchema;
use crate::LoadError;

/// The metadata key the card is stored under.
pub const MODEL_CARD_KEY: &str = "model_card";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Numeric features' training profiles, by feature name (a feature may be left out).
    #[serde(default)]
    pub features: BTreeMap<String, Profile>,
    /// A regressor's training scores.
    #[serde(default)]
    pub score: Option<Profile>,
    /// A classifier's training label shares, by label as text.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, f64>>,
    /// How many training rows reached each node of each tree ensemble, by the ensemble's
    /// ONNX node name, in the order of its node attributes (see `crate::explain`):
    /// what path-dependent TreeSHAP weighs the unseen branches by. ONNX files do not
    /// carry them (`nodes_hitrates` is absent or all 1.0 in every converter's output).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub covers: BTreeMap<String, Vec<f64>>,
    /// The training mean of each input column of each linear model, by its ONNX node name:
    /// a linear contribution is coefficient × (value − mean).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_means: BTreeMap<String, Vec<f64>>,
}

impl ModelCard {
    /// The card in `json`, checked against the model's features.
    pub(crate) fn parse(json: &str, schema: &FeatureSchema) -> Result<ModelCard, LoadError> {
        let bad = |why: String| LoadError::BadModelCard(why);
        let card: ModelCard = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        for (name, profile) in &card.features {
            let feature = schema
                .features()
                .iter()
                .find(|f| &f.name == name)
                .ok_or_else(|| bad(format!("feature `{name}` is not one of the model's")))?;
            if feature.ty == FeatureType::String {
                return Err(bad(format!(
                    "feature `{name}` is categorical; profiles are for numeric features"
                )));
            }
            if let Some(problem) = profile.problem() {
                return Err(bad(format!("feature `{name}`: {problem}")));
            }
        }
        if let Some(problem) = card.score.as_ref().and_then(Profile::problem) {
            return Err(bad(format!("score: {problem}")));
        }
        if let Some(labels) = &card.labels {
            let total: f64 = labels.values().sum();
            if labels.values().any(|s| !(s.is_finite() && *s >= 0.0)) || (total - 1.0).abs() > 1e-6
            {
                return Err(bad(format!(
                    "labels: shares must be finite, not negative and sum to 1 (they sum to {total})"
                )));
            }
        }
        if let Some((node, at)) = card
            .covers
            .iter()
            .find_map(|(node, covers)| covers.iter().position(|&c| c < 0.0).map(|at| (node, at)))
        {
            return Err(bad(format!(
                "covers of node `{node}`: value {at} is negative (a cover counts training rows)"
            )));
        }
        Ok(card)
    }
}
