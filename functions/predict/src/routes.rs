//! Which handler a method and path go to: the one place the path is read. The path comes
//! without an API Gateway stage prefix (the function runs with
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true`), so REST API stages and HTTP API
//! `$default` route alike.

use std::borrow::Cow;

use lambda_http::http::Method;

use crate::http::limits::MAX_PRODUCT_ID_BYTES;
use crate::http::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /predict/{product_id}`, the id percent-decoded.
    ScoreProduct(Cow<'a, str>),
    /// `POST /predict`
    ScoreInstances,
    /// `GET /predictions/{product_id}`: the nightly run's stored result.
    StoredPrediction(Cow<'a, str>),
    /// `GET /health`
    Health,
    /// An Open Inference Protocol (v2) route, under `/v2`.
    Oip(OipRoute<'a>),
    /// `POST /outcomes`: what really happened, handed back.
    Outcomes,
}

/// The Open Inference Protocol's REST routes. Model names and versions are as the path
/// has them (percent-decoded); whether they name the served model is the handler's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OipRoute<'a> {
    /// `GET /v2/health/live`
    ServerLive,
    /// `GET /v2/health/ready`
    ServerReady,
    /// `GET /v2`
    ServerMetadata,
    /// `GET /v2/models/{name}[/versions/{version}]`
    ModelMetadata(ModelRef<'a>),
    /// `GET /v2/models/{name}[/versions/{version}]/ready`
    ModelReady(ModelRef<'a>),
    /// `POST /v2/models/{name}[/versions/{version}]/infer`
    Infer(ModelRef<'a>),
}

/// A model as a `/v2/models/...` path names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef<'a> {
    pub name: Cow<'a, str>,
    pub version: Option<Cow<'a, str>>,
}

/// Every route's stable name, for logs and metrics, and last the name of a request that
/// reached none ([`UNROUTED`]).
pub const ROUTE_NAMES: [&str; 12] = [
    "GET /predict/{product_id}",
    "POST /predict",
    "GET /predictions/{product_id}",
    "GET /health",
    "GET /v2/health/live",
    "GET /v2/health/ready",
    "GET /v2",
    "GET /v2/models/{name}",
    "GET /v2/models/{name}/ready",
    "POST /v2/models/{name}/infer",
    "POST /outcomes",
    "none",
];

/// The index in [`ROUTE_NAMES`] of a request that reached no route (or no handler).
pub const UNROUTED: usize = ROUTE_NAMES.len() - 1;

impl Route<'_> {
    /// The route's index in [`ROUTE_NAMES`].
    pub fn index(&self) -> usize {
        match self {
            Route::ScoreProduct(_) => 0,
            Route::ScoreInstances => 1,
            Route::StoredPrediction(_) => 2,
            Route::Health => 3,
            Route::Oip(oip) => match oip {
                OipRoute::ServerLive => 4,
                OipRoute::ServerReady => 5,
                OipRoute::ServerMetadata => 6,
                OipRoute::ModelMetadata(_) => 7,
                OipRoute::ModelReady(_) => 8,
                OipRoute::Infer(_) => 9,
            },
            Route::Outcomes => 10,
        }
    }

    /// A stable name for logs.
    pub fn name(&self) -> &'static str {
        ROUTE_NAMES[self.index()]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    /// The path exists for another method, named here (for the `Allow` header).
    MethodNotAllowed(&'static str),
    /// `GET /predict/{product_id}` with an id that cannot name a product.
    BadProductId(BadProductId),
}

impl NoRoute {
    /// The caller's answer: 404, 405 naming the method the path takes, or 400 saying why
    /// the product id cannot name a product.
    pub fn into_error(self, method: &Method, path: &str) -> ApiError {
        match self {
            NoRoute::NotFound => ApiError::not_found(format!("no route for {path}")),
            NoRoute::MethodNotAllowed(allowed) => ApiError::method_not_allowed(
                format!("{method} is not allowed on {path}; use {allowed}"),
                allowed,
            ),
            NoRoute::BadProductId(why) => ApiError::bad_request(why.to_string()),
        }
    }
}

/// Why a product id is refused before any call: each is the caller's to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadProductId {
    Empty,
    /// Longer than a DynamoDB key can be (its length in bytes).
    TooLong(usize),
    /// Not valid UTF-8 once percent-decoded.
    NotUtf8,
    /// Holds a `/`, raw or as `%2F`: API Gateway routes one path segment, and proxies
    /// disagree on whether `%2F` is one, so such an id cannot be addressed reliably.
    Slash,
    /// `.` or `..`: HTTP clients and proxies resolve these segments away.
    DotSegment,
}

impl std::fmt::Display for BadProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadProductId::Empty => write!(
                f,
                "the product id is empty; it must be 1 to {MAX_PRODUCT_ID_BYTES} bytes"
            ),
            BadProductId::TooLong(n) => write!(
                f,
                "the product id is {n} bytes; a product id is at most {MAX_PRODUCT_ID_BYTES} \
                 bytes (DynamoDB's key limit)"
            ),
            BadProductId::NotUtf8 => {
                write!(f, "the product id is not valid UTF-8 once percent-decoded")
            }
            BadProductId::Slash => write!(
                f,
                "the product id contains '/' (raw or as %2F); ids with '/' cannot be \
                 addressed by a path: score such a product with POST /predict"
            ),
            BadProductId::DotSegment => write!(
                f,
                "the product id is '.' or '..', which HTTP clients and proxies resolve away; \
                 such a product cannot be addressed by a path"
            ),
        }
    }
}

/// The percent-decoded id of one path segment, if it can name a product.
fn product_id(segment: &str) -> Result<Cow<'_, str>, BadProductId> {
    let id = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| BadProductId::NotUtf8)?;
    match &*id {
        "" => Err(BadProductId::Empty),
        "." | ".." => Err(BadProductId::DotSegment),
        id if id.len() > MAX_PRODUCT_ID_BYTES => Err(BadProductId::TooLong(id.len())),
        id if id.contains('/') => Err(BadProductId::Slash),
        _ => Ok(id),
    }
}

/// A `/v2` path's route (the segments after `v2`, a trailing slash dropped) and the method
/// it takes; `None` if no OIP route has this path.
fn oip_route<'a>(segments: &[&'a str]) -> Option<(&'static str, OipRoute<'a>)> {
    let segments = match segments {
        [rest @ .., ""] => rest,
        all => all,
    };
    // A name or version segment, percent-decoded; empty or not UTF-8 names nothing.
    let part = |s: &'a str| -> Option<Cow<'a, str>> {
        let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
        (!decoded.is_empty()).then_some(decoded)
    };
    let model = |name: &'a str, version: Option<&'a str>| -> Option<ModelRef<'a>> {
        Some(ModelRef {
            name: part(name)?,
            version: match version {
                Some(v) => Some(part(v)?),
                None => None,
            },
        })
    };
    Some(match segments {
        [] => ("GET", OipRoute::ServerMetadata),
        ["health", "live"] => ("GET", OipRoute::ServerLive),
        ["health", "ready"] => ("GET", OipRoute::ServerReady),
        ["models", name] => ("GET", OipRoute::ModelMetadata(model(name, None)?)),
        ["models", name, "versions", version] => {
            ("GET", OipRoute::ModelMetadata(model(name, Some(version))?))
        }
        ["models", name, "ready"] => ("GET", OipRoute::ModelReady(model(name, None)?)),
        ["models", name, "versions", version, "ready"] => {
            ("GET", OipRoute::ModelReady(model(name, Some(version))?))
        }
        ["models", name, "infer"] => ("POST", OipRoute::Infer(model(name, None)?)),
        ["models", name, "versions", version, "infer"] => {
            ("POST", OipRoute::Infer(model(name, Some(version))?))
        }
        _ => return None,
    })
}

pub fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, NoRoute> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    if let ["v2", rest @ ..] = segments.as_slice() {
        let (allowed, oip) = oip_route(rest).ok_or(NoRoute::NotFound)?;
        return if method.as_str() == allowed {
            Ok(Route::Oip(oip))
        } else {
            Err(NoRoute::MethodNotAllowed(allowed))
        };
    }
    let get = method == Method::GET;
    let (allowed, route) = match segments.as_slice() {
        // `/predict/` is POST's path with a trailing slash, or a GET with an empty id.
        ["predict"] | ["predict", ""] if !get => ("POST", Route::ScoreInstances),
        ["predict"] => ("POST", Route::ScoreInstances),
        ["predict", ""] => return Err(NoRoute::BadProductId(BadProductId::Empty)),
        ["predict", id] | ["predict", id, ""] => (
            "GET",
            Route::ScoreProduct(product_id(id).map_err(NoRoute::BadProductId)?),
        ),
        ["predictions", ""] => return Err(NoRoute::BadProductId(BadProductId::Empty)),
        ["predictions", id] | ["predictions", id, ""] => (
            "GET",
            Route::StoredPrediction(product_id(id).map_err(NoRoute::BadProductId)?),
        ),
        // A raw '/' in the id: more segments than the route has.
        ["predict" | "predictions", _, _, ..] if get => {
            return Err(NoRoute::BadProductId(BadProductId::Slash))
        }
        ["health"] | ["health", ""] => ("GET", Route::Health),
        ["outcomes"] | ["outcomes", ""] => ("POST", Route::Outcomes),
        _ => return Err(NoRoute::NotFound),
    };
    if method.as_str() == allowed {
        Ok(route)
    } else {
        Err(NoRoute::MethodNotAllowed(allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let product = |id: &str| Ok(Route::ScoreProduct(id.to_owned().into()));
        assert_eq!(
            route(&Method::GET, "/predict/wine-0001"),
            product("wine-0001")
        );
        assert_eq!(
            route(&Method::GET, "/predict/wine-0001/"),
            product("wine-0001")
        );
        assert_eq!(
            route(&Method::GET, "/predict/wine%200001"),
            product("wine 0001")
        );
        assert_eq!(route(&Method::POST, "/predict"), Ok(Route::ScoreInstances));
        assert_eq!(route(&Method::GET, "/health"), Ok(Route::Health));
        assert_eq!(
            route(&Method::GET, "/predict"),
            Err(NoRoute::MethodNotAllowed("POST"))
        );
        assert_eq!(
            route(&Method::DELETE, "/predict/x"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(
            route(&Method::POST, "/health"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(route(&Method::GET, "/"), Err(NoRoute::NotFound));
        assert_eq!(route(&Method::POST, "/predict/"), Ok(Route::ScoreInstances));
        assert_eq!(route(&Method::GET, "/predict/a..b"), product("a..b"));
        assert_eq!(route(&Method::GET, "/health/"), Ok(Route::Health));
        assert_eq!(
            route(&Method::GET, "/predictions/wine%200001"),
            Ok(Route::StoredPrediction("wine 0001".to_owned().into()))
        );
        assert_eq!(
            route(&Method::POST, "/predictions/x"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(route(&Method::GET, "/predictions"), Err(NoRoute::NotFound));
        assert_eq!(route(&Method::GET, "/healthz"), Err(NoRoute::NotFound));
        assert_eq!(route(&Method::POST, "/outcomes"), Ok(Route::Outcomes));
        assert_eq!(route(&Method::POST, "/outcomes/"), Ok(Route::Outcomes));
        assert_eq!(
            route(&Method::GET, "/outcomes"),
            Err(NoRoute::MethodNotAllowed("POST"))
        );
        assert_eq!(route(&Method::POST, "/outcomes/x"), Err(NoRoute::NotFound));
    }

    #[test]
    fn open_inference_protocol_routes() {
        fn oip(method: Method, path: &str) -> Result<OipRoute<'_>, NoRoute> {
            match route(&method, path) {
                Ok(Route::Oip(r)) => Ok(r),
                Ok(other) => panic!("{path}: {other:?}"),
                Err(e) => Err(e),
            }
        }
        let named = |name: &str, version: Option<&str>| ModelRef {
            name: name.to_owned().into(),
            version: version.map(|v| v.to_owned().into()),
        };
        assert_eq!(oip(Method::GET, "/v2"), Ok(OipRoute::ServerMetadata));
        assert_eq!(oip(Method::GET, "/v2/"), Ok(OipRoute::ServerMetadata));
        assert_eq!(
            oip(Method::GET, "/v2/health/live"),
            Ok(OipRoute::ServerLive)
        );
        assert_eq!(
            oip(Method::GET, "/v2/health/ready/"),
            Ok(OipRoute::ServerReady)
        );
        assert_eq!(
            oip(Method::GET, "/v2/models/wine-quality"),
            Ok(OipRoute::ModelMetadata(named("wine-quality", None)))
        );
        assert_eq!(
            oip(Method::GET, "/v2/models/m/versions/v%2B1"),
            Ok(OipRoute::ModelMetadata(named("m", Some("v+1"))))
        );
        assert_eq!(
            oip(Method::GET, "/v2/models/m/ready"),
            Ok(OipRoute::ModelReady(named("m", None)))
        );
        assert_eq!(
            oip(Method::GET, "/v2/models/m/versions/7/ready"),
            Ok(OipRoute::ModelReady(named("m", Some("7"))))
        );
        assert_eq!(
            oip(Method::POST, "/v2/models/m/infer"),
            Ok(OipRoute::Infer(named("m", None)))
        );
        assert_eq!(
            oip(Method::POST, "/v2/models/m/versions/7/infer"),
            Ok(OipRoute::Infer(named("m", Some("7"))))
        );
        assert_eq!(
            oip(Method::GET, "/v2/models/m/infer"),
            Err(NoRoute::MethodNotAllowed("POST"))
        );
        assert_eq!(
            oip(Method::POST, "/v2/models/m"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(
            oip(Method::POST, "/v2/health/live"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        for unknown in [
            "/v2/models",
            "/v2/models/",
            "/v2/models//infer",
            "/v2/models/%FF/infer",
            "/v2/models/m/explain",
            "/v2/health",
            "/v2/repository/index",
            "/v3/models/m",
        ] {
            assert_eq!(
                route(&Method::POST, unknown),
                Err(NoRoute::NotFound),
                "{unknown}"
            );
        }
    }

    #[test]
    fn product_ids_that_cannot_name_a_product_are_refused_before_any_call() {
        let bad = |path: &str| match route(&Method::GET, path) {
            Err(NoRoute::BadProductId(why)) => why,
            other => panic!("{path}: {other:?}"),
        };
        assert_eq!(bad("/predict/"), BadProductId::Empty);
        assert_eq!(bad("/predict/%FF"), BadProductId::NotUtf8);
        assert_eq!(bad("/predict/a%2Fb"), BadProductId::Slash);
        assert_eq!(bad("/predict/a%2fb"), BadProductId::Slash);
        assert_eq!(bad("/predict/a/b"), BadProductId::Slash);
        assert_eq!(bad("/predict/../etc/passwd"), BadProductId::Slash);
        assert_eq!(bad("/predict/.."), BadProductId::DotSegment);
        assert_eq!(bad("/predict/%2E%2E"), BadProductId::DotSegment);
        assert_eq!(bad("/predict/."), BadProductId::DotSegment);
        assert_eq!(bad("/predictions/"), BadProductId::Empty);
        assert_eq!(bad("/predictions/a%2Fb"), BadProductId::Slash);
        assert_eq!(bad("/predictions/a/b"), BadProductId::Slash);
        let longest = "é".repeat(MAX_PRODUCT_ID_BYTES / 2);
        assert!(route(&Method::GET, &format!("/predict/{longest}")).is_ok());
        assert_eq!(
            bad(&format!("/predict/{longest}x")),
            BadProductId::TooLong(MAX_PRODUCT_ID_BYTES + 1)
        );
        // Percent-encoded bytes count once decoded.
        let encoded = "%41".repeat(MAX_PRODUCT_ID_BYTES);
        assert!(route(&Method::GET, &format!("/predict/{encoded}")).is_ok());
        // Other methods on the id's path are still told which method it takes.
        assert_eq!(route(&Method::POST, "/predict/a/b"), Err(NoRoute::NotFound));
    }
}
