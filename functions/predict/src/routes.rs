//! Which handler a method and path go to: the one place the path is read. The path comes
//! without an API Gateway stage prefix (the function runs with
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true`), so REST API stages and HTTP API
//! `$default` route alike.

use std::borrow::Cow;

use lambda_http::http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /predict/{product_id}`, the id percent-decoded.
    ScoreProduct(Cow<'a, str>),
    /// `POST /predict`
    ScoreInstances,
    /// `GET /health`
    Health,
}

impl Route<'_> {
    /// A stable name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Route::ScoreProduct(_) => "GET /predict/{product_id}",
            Route::ScoreInstances => "POST /predict",
            Route::Health => "GET /health",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    /// The path exists for another method, named here (for the `Allow` header).
    MethodNotAllowed(&'static str),
    /// The product id is not valid UTF-8 once percent-decoded.
    BadProductId,
}

pub fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, NoRoute> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (allowed, route) = match segments.as_slice() {
        ["predict", id] if !id.is_empty() => {
            let id = percent_encoding::percent_decode_str(id)
                .decode_utf8()
                .map_err(|_| NoRoute::BadProductId)?;
            ("GET", Route::ScoreProduct(id))
        }
        ["predict"] => ("POST", Route::ScoreInstances),
        ["health"] => ("GET", Route::Health),
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
        assert_eq!(route(&Method::GET, "/predict/a%2Fb"), product("a/b"));
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
        assert_eq!(route(&Method::GET, "/predict/a/b"), Err(NoRoute::NotFound));
        assert_eq!(
            route(&Method::GET, "/predict/%FF"),
            Err(NoRoute::BadProductId)
        );
    }
}
