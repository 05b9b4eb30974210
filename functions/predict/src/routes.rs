//! Which handler a method and path go to. Paths are matched after any API Gateway stage
//! prefix has been taken off, so REST API stages and HTTP API `$default` both work.

use lambda_http::http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /predict/{product_id}`
    ScoreProduct(&'a str),
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
}

pub fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, NoRoute> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (allowed, route) = match segments.as_slice() {
        ["predict", id] if !id.is_empty() => ("GET", Route::ScoreProduct(id)),
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
        assert_eq!(
            route(&Method::GET, "/predict/wine-0001"),
            Ok(Route::ScoreProduct("wine-0001"))
        );
        assert_eq!(
            route(&Method::GET, "/predict/wine-0001/"),
            Ok(Route::ScoreProduct("wine-0001"))
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
        assert_eq!(route(&Method::GET, "/predict/a/b"), Err(NoRoute::NotFound));
        assert_eq!(route(&Method::GET, "/nothing"), Err(NoRoute::NotFound));
    }
}
