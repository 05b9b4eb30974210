//! Who can call the API: by default AWS_IAM on every route, or a JWT authorizer, or none
//! (the `ApiAuth` parameter), each resolving to what SAM's own `Auth` would write; every
//! route calls the `live` alias.

use std::collections::{BTreeMap, BTreeSet};

use e2e::{unique, venv_tool_or_skip};
use serde_json::{json, Value};
use testkit::cloudformation::{
    evaluate, of_function, parameter_values, props, refers_to, refused_by_rules, template_path,
    translate, translated_with, Parameters,
};

/// The predict API's OpenAPI body as CloudFormation resolves it for `params`.
fn api_body(t: &Value, params: &Parameters) -> Value {
    evaluate(&props(t, "PredictApi")["Body"], t, params).unwrap()
}

struct Route {
    /// The security schemes the route requires (its `security`, looked up in the body's
    /// `components.securitySchemes`); empty if anyone may call it.
    schemes: Vec<Value>,
    integration_uri: Value,
}

/// Every route of the predict API (`"get /health"`, ...) for `params`.
fn predict_routes(t: &Value, params: &Parameters) -> BTreeMap<String, Route> {
    let body = api_body(t, params);
    let defined = &body["components"]["securitySchemes"];
    let mut routes = BTreeMap::new();
    for (path, methods) in body["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let route = format!("{method} {path}");
            let mut schemes = Vec::new();
            for requirement in op["security"].as_array().into_iter().flatten() {
                for (name, scopes) in requirement.as_object().unwrap() {
                    assert_eq!(scopes, &json!([]), "{route}: scopes of {name}");
                    let scheme = defined
                        .get(name)
                        .unwrap_or_else(|| panic!("{route} requires {name}, which is not defined"));
                    schemes.push(scheme.clone());
                }
            }
            let integration_uri = op["x-amazon-apigateway-integration"]["uri"].clone();
            routes.insert(
                route,
                Route {
                    schemes,
                    integration_uri,
                },
            );
        }
    }
    routes
}

/// The routes of the predict function's HttpApi events.
const PREDICT_ROUTES: [&str; 6] = [
    "get /predict/{product_id}",
    "post /predict",
    "get /predictions/{product_id}",
    "get /health",
    "post /outcomes",
    "x-amazon-apigateway-any-method $default",
];

/// `routes` are the predict function's, and each calls the `live` alias, as by default.
fn assert_routes_through_the_alias(t: &Value, routes: &BTreeMap<String, Route>) {
    let names: BTreeSet<&str> = routes.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(PREDICT_ROUTES));
    let (alias_id, _) = of_function(t, "AWS::Lambda::Alias", "PredictFunction");
    for (route, r) in routes {
        assert!(
            refers_to(&r.integration_uri, alias_id),
            "{route}: {}",
            r.integration_uri
        );
    }
}

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example";

fn with_jwt() -> [(&'static str, &'static str); 3] {
    [
        ("ApiAuth", "JWT"),
        ("JwtIssuer", ISSUER),
        ("JwtAudience", "client-a,client-b"),
    ]
}

#[test]
fn by_default_every_predict_route_requires_aws_iam() {
    venv_tool_or_skip!("python");
    let (t, params) = translated_with(&template_path(), &[]);
    assert_eq!(params["ApiAuth"], "IAM");
    let routes = predict_routes(&t, &params);
    assert_routes_through_the_alias(&t, &routes);
    let sigv4 = json!({
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "awsSigv4"
    });
    for (route, r) in &routes {
        assert_eq!(r.schemes, std::slice::from_ref(&sigv4), "{route}");
    }
    assert_eq!(
        api_body(&t, &params)["components"]["securitySchemes"]
            .as_object()
            .unwrap()
            .len(),
        1,
        "no authorizer but IAM"
    );
}

#[test]
fn with_jwt_every_predict_route_uses_a_jwt_authorizer_of_the_given_issuer_and_audience() {
    venv_tool_or_skip!("python");
    let (t, params) = translated_with(&template_path(), &with_jwt());
    let routes = predict_routes(&t, &params);
    assert_routes_through_the_alias(&t, &routes);
    for (route, r) in &routes {
        assert_eq!(r.schemes.len(), 1, "{route}: {:?}", r.schemes);
        let scheme = &r.schemes[0];
        assert_eq!(scheme["type"], "oauth2", "{route}");
        assert_eq!(
            scheme["x-amazon-apigateway-authorizer"],
            json!({
                "type": "jwt",
                "identitySource": "$request.header.Authorization",
                "jwtConfiguration": { "issuer": ISSUER, "audience": ["client-a", "client-b"] }
            }),
            "{route}"
        );
    }
    assert!(refused_by_rules(&t, &params).is_empty());
}

#[test]
fn with_none_no_predict_route_has_an_authorizer() {
    venv_tool_or_skip!("python");
    let (t, params) = translated_with(&template_path(), &[("ApiAuth", "NONE")]);
    let routes = predict_routes(&t, &params);
    assert_routes_through_the_alias(&t, &routes);
    for (route, r) in &routes {
        assert!(r.schemes.is_empty(), "{route}: {:?}", r.schemes);
    }
    let body = api_body(&t, &params);
    assert!(
        body.get("components").is_none(),
        "no authorizers: {}",
        body["components"]
    );
}

#[test]
fn jwt_without_an_issuer_or_an_audience_is_refused() {
    venv_tool_or_skip!("python");
    let t = translate(&[]);
    let refused =
        |overrides: &[(&str, &str)]| refused_by_rules(&t, &parameter_values(&t, overrides));
    let (issuer, audience) = (("JwtIssuer", ISSUER), ("JwtAudience", "client-a"));
    assert_eq!(refused(&[("ApiAuth", "JWT")]).len(), 2);
    let no_audience = refused(&[("ApiAuth", "JWT"), issuer]);
    assert!(
        no_audience.len() == 1 && no_audience[0].contains("JwtAudience"),
        "{no_audience:?}"
    );
    let no_issuer = refused(&[("ApiAuth", "JWT"), audience]);
    assert!(
        no_issuer.len() == 1 && no_issuer[0].contains("JwtIssuer"),
        "{no_issuer:?}"
    );
    assert_eq!(
        refused(&[("ApiAuth", "JWT"), issuer, audience]),
        Vec::<String>::new()
    );
    for choice in ["IAM", "NONE"] {
        assert_eq!(
            refused(&[("ApiAuth", choice)]),
            Vec::<String>::new(),
            "{choice}"
        );
    }
}

/// SAM's own `Auth` (which takes no intrinsic functions) writes, for each choice, exactly
/// the API body the template's conditional OpenAPI resolves to: the same routes,
/// integrations, security and authorizers.
#[test]
fn each_choice_resolves_to_the_api_sams_own_auth_would_write() {
    venv_tool_or_skip!("python");
    let original = std::fs::read_to_string(template_path()).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let api = lines
        .iter()
        .position(|l| *l == "  PredictApi:")
        .expect("PredictApi");
    let start = api
        + lines[api..]
            .iter()
            .position(|l| *l == "      DefinitionBody:")
            .expect("PredictApi's DefinitionBody");
    let end = start
        + 1
        + lines[start + 1..]
            .iter()
            .position(|l| !l.starts_with("       "))
            .unwrap();
    let with_sam_auth = |auth: &str| -> String {
        let mut out: Vec<&str> = lines[..start].to_vec();
        out.extend(auth.lines());
        out.extend(&lines[end..]);
        out.iter().map(|l| format!("{l}\n")).collect()
    };
    const IAM: &str = "      Auth:
        EnableIamAuthorizer: true
        DefaultAuthorizer: AWS_IAM";
    const JWT: &str = "      Auth:
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Ref JwtIssuer
              audience: !Split [\",\", !Ref JwtAudience]
        DefaultAuthorizer: Jwt";
    let dir = std::env::temp_dir().join(unique("template"));
    std::fs::create_dir_all(&dir).unwrap();
    for (choice, parameters, auth) in [
        ("IAM", &[("ApiAuth", "IAM")][..], IAM),
        ("JWT", &with_jwt()[..], JWT),
        ("NONE", &[("ApiAuth", "NONE")][..], ""),
    ] {
        let path = dir.join(format!("{choice}.yaml"));
        std::fs::write(&path, with_sam_auth(auth)).unwrap();
        let (ours, ours_params) = translated_with(&template_path(), parameters);
        let (sams, sams_params) = translated_with(&path, parameters);
        assert_eq!(
            api_body(&ours, &ours_params),
            api_body(&sams, &sams_params),
            "ApiAuth={choice}: the template's API (left), SAM's Auth (right)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
