//! Dispatch: a request's route, its handler, its response; the request's metrics and log
//! line, once. Generic over the attribute store and the results, so tests run it with
//! in-memory twins.

use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response};
use scoring::Model;
use store::attributes::AttributeStore;
use store::outcomes::OutcomeSink;

use crate::challenger::{Challenger, Loaded};
use crate::outcomes::NoOutcomes;
use crate::pick::{model_asked, Models};
use crate::results::{NoResults, Results};
use crate::routes::{route, Route, ROUTE_NAMES, UNROUTED};
use crate::telemetry::Telemetry;
use crate::{health, instances, outcomes, product, stored};

/// What a warm call needs: the model, loaded once, its name in the Open Inference
/// Protocol routes, the attribute store, where the nightly results are read back from,
/// the model's metric handles, the challenger beside it, if any, and where `POST /outcomes`
/// writes, if anywhere.
pub struct App<S, R = NoResults, O = NoOutcomes> {
    model: Model,
    model_name: String,
    store: S,
    results: R,
    telemetry: Telemetry,
    challenger: Challenger,
    outcomes: Option<O>,
}

impl<S: AttributeStore> App<S> {
    /// `model_name` names the model in the `/v2/models/{name}` routes (the configuration's
    /// `MODEL_NAME`). Without a results store: `GET /predictions/{product_id}` answers 500.
    /// Build it after the metrics recorder is installed: its metric handles are the
    /// recorder's.
    pub fn new(model: Model, store: S, model_name: impl Into<String>) -> Self {
        App {
            telemetry: Telemetry::new(&model),
            model,
            model_name: model_name.into(),
            store,
            results: NoResults,
            challenger: Challenger::NotConfigured,
            outcomes: None,
        }
    }
}

impl<S: AttributeStore, R: Results, O: OutcomeSink> App<S, R, O> {
    /// The same app, reading stored results from `results`.
    pub fn with_results<T: Results>(self, results: T) -> App<S, T, O> {
        App {
            model: self.model,
            model_name: self.model_name,
            store: self.store,
            results,
            telemetry: self.telemetry,
            challenger: self.challenger,
            outcomes: self.outcomes,
        }
    }

    /// The same app, writing `POST /outcomes` to `outcomes` (`None`: the route answers 404,
    /// saying the stack has no outcomes table).
    pub fn with_outcomes<T: OutcomeSink>(self, outcomes: Option<T>) -> App<S, R, T> {
        App {
            model: self.model,
            model_name: self.model_name,
            store: self.store,
            results: self.results,
            telemetry: self.telemetry,
            challenger: self.challenger,
            outcomes,
        }
    }

    /// The same app with `challenger` scoring beside the model, named
    /// `{model_name}-challenger` in the Open Inference Protocol routes. Build it after the
    /// metrics recorder is installed, as the app.
    pub fn with_challenger(self, challenger: Model) -> Self {
        let name = aws_adapter::config::challenger_name(&self.model_name);
        let loaded = Loaded::new(&self.model, challenger, name);
        App {
            challenger: Challenger::Loaded(Box::new(loaded)),
            ..self
        }
    }

    /// The same app with a challenger configured that could not be loaded: the model
    /// serves alone, and says so where a challenger is asked for.
    pub fn with_failed_challenger(self) -> Self {
        App {
            challenger: Challenger::FailedToLoad,
            ..self
        }
    }

    pub fn challenger(&self) -> &Challenger {
        &self.challenger
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// Where `POST /outcomes` writes, if anywhere.
    pub fn outcomes(&self) -> Option<&O> {
        self.outcomes.as_ref()
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Answers one request; never fails and never panics on input: every problem becomes
    /// a JSON error with its status. Logs one line per request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let request_id = request.lambda_context_ref().map(|c| c.request_id.as_str());
        // API Gateway's path as the caller sent it. Not the URI's: lambda_http builds that
        // from the Host header, so a Host of "a/b" would prefix the path, and it resolves
        // `..` segments.
        let path = match request.raw_http_path() {
            "" => request.uri().path(),
            raw => raw,
        };
        let route = route(request.method(), path);
        let query = request.uri().query();
        let models = Models {
            champion: &self.model,
            champion_name: &self.model_name,
            telemetry: &self.telemetry,
            challenger: &self.challenger,
            request_id,
        };
        let answer = match &route {
            Ok(Route::ScoreProduct(id)) => {
                match (product::explain_asked(query), model_asked(query)) {
                    (Ok(explain), Ok(choice)) => match models.pick(choice) {
                        Ok(pick) => product::answer(pick, &self.store, id, explain).await,
                        Err(e) => Err(e),
                    },
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
            Ok(Route::ScoreInstances) => model_asked(query)
                .and_then(|choice| models.pick(choice))
                .and_then(|pick| instances::answer(pick, request.body())),
            Ok(Route::StoredPrediction(id)) => stored::answer(&self.results, id).await,
            Ok(Route::Health) => Ok(health::answer(&self.model, &self.challenger)),
            Ok(Route::Outcomes) => {
                let now = chrono::Utc::now();
                outcomes::answer(self.outcomes.as_ref(), request.body(), now, &self.telemetry).await
            }
            Ok(Route::Oip(oip)) => {
                let (served, mut observer) = models.served(oip);
                served.answer(oip, &mut observer, request.headers(), request.body())
            }
            Err(no_route) => Err(no_route.into_error(request.method(), path)),
        };
        let response = answer.unwrap_or_else(|e| e.into_response(request_id));
        let route_index = route.as_ref().map_or(UNROUTED, Route::index);
        let status = response.status().as_u16();
        let latency = started.elapsed();
        self.telemetry.request(route_index, status, latency);
        let product_id = match &route {
            Ok(Route::ScoreProduct(id) | Route::StoredPrediction(id)) => id,
            _ => "",
        };
        tracing::info!(
            route = ROUTE_NAMES[route_index],
            request_id,
            product_id,
            status,
            latency_us = latency.as_micros() as u64,
            "request"
        );
        response
    }
}
