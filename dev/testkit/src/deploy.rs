//! The SAM template deployed to moto's CloudFormation, to see what gets created and how it
//! is wired. moto ignores the Serverless transform, so the template is translated first
//! ([`cloudformation::translate`]), and what moto cannot create is left out ([`for_moto`]).
//! The stack is created, and what moto made of it read back, by `tests/template/deploy.py`
//! (the venv's boto3): the Rust SDKs of CloudFormation, Lambda and EventBridge, which only
//! this needed, cost a tenth of the test build.

use std::collections::{BTreeSet, HashMap};

use aws_config::SdkConfig;
use aws_sdk_s3::error::DisplayErrorContext;
use serde_json::{json, Value};

use crate::cloudformation::{self, refers_to};
use crate::{moto, resources, stack};

/// Resource types moto's CloudFormation does not create. They are left out of the
/// deployment, with whatever refers to them (the API's permissions on the alias).
pub const NOT_IN_MOTO: [&str; 12] = [
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::Lambda::Alias",
    "AWS::CodeDeploy::Application",
    "AWS::CodeDeploy::DeploymentGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::Lambda::EventInvokeConfig",
    // moto has Firehose and log subscriptions, but its CloudFormation creates neither: the
    // capture pipeline is built through their APIs instead (the test kit's log shipper).
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Logs::SubscriptionFilter",
];

/// `t` as moto can deploy it: without what moto cannot create (returns those logical ids),
/// and with Number parameters in Lambda environments given as strings, as CloudFormation
/// does (moto would store the number, which the Lambda API never returns).
pub fn for_moto(t: &mut Value) -> BTreeSet<String> {
    let numbers: BTreeSet<String> = t["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, p)| p["Type"] == "Number")
        .map(|(name, _)| name.clone())
        .collect();
    for r in t["Resources"].as_object_mut().unwrap().values_mut() {
        if let Some(vars) = r["Properties"]["Environment"]["Variables"].as_object_mut() {
            for value in vars.values_mut() {
                if let Some(name) = value["Ref"].as_str().filter(|n| numbers.contains(*n)) {
                    *value = json!({ "Fn::Sub": format!("${{{name}}}") });
                }
            }
        }
    }
    let resources = t["Resources"].as_object_mut().unwrap();
    let mut out: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| NOT_IN_MOTO.iter().any(|ty| r["Type"] == *ty))
        .map(|(id, _)| id.clone())
        .collect();
    loop {
        let dependents: Vec<String> = resources
            .iter()
            .filter(|(id, r)| !out.contains(*id) && out.iter().any(|o| refers_to(r, o)))
            .map(|(id, _)| id.clone())
            .collect();
        if dependents.is_empty() {
            break;
        }
        out.extend(dependents);
    }
    resources.retain(|id, _| !out.contains(id));
    let outputs = t["Outputs"].as_object_mut().unwrap();
    outputs.retain(|_, o| !out.iter().any(|id| refers_to(o, id)));
    out
}

/// A Lambda function as moto's Lambda API describes it.
#[derive(Debug, Clone)]
pub struct Function {
    pub arn: String,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub timeout: Option<i64>,
    pub environment: HashMap<String, String>,
}

/// An EventBridge rule as moto describes it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub schedule: Option<String>,
    /// The ARNs of its targets.
    pub targets: Vec<String>,
}

/// A stack moto created from the template.
pub struct Deployed {
    pub stack: String,
    /// Logical ids of the resources left out because moto cannot create them ([`for_moto`]).
    pub left_out: BTreeSet<String>,
    /// Logical ids of the resources moto created; `physical` those with a physical id.
    pub created: BTreeSet<String>,
    pub physical: HashMap<String, String>,
    pub outputs: HashMap<String, String>,
    /// The stack's functions and rules, by physical id (the function's or rule's name).
    pub functions: HashMap<String, Function>,
    pub rules: HashMap<String, Rule>,
    /// The SDK configuration of the moto it is on.
    pub config: SdkConfig,
}

impl Deployed {
    /// The physical id of `logical_id`, which must have been created.
    pub fn name(&self, logical_id: &str) -> String {
        self.physical
            .get(logical_id)
            .unwrap_or_else(|| panic!("{logical_id} was not created: {:?}", self.physical))
            .clone()
    }
}

/// Deploys the project's template, with `parameters`, as a new stack on the moto at
/// `endpoint`, and waits (up to a minute) until it is created. The functions' code is an
/// empty zip in a bucket of its own: moto stores it, it does not run it.
pub async fn deploy_to_moto(
    endpoint: &str,
    parameters: &[(&str, &str)],
) -> Result<Deployed, String> {
    let config = moto::sdk_config(endpoint).await;
    let clients = stack::Clients::for_endpoint(endpoint).await;
    let code_bucket = moto::unique_name("code");
    clients
        .s3
        .create_bucket()
        .bucket(&code_bucket)
        .send()
        .await
        .map_err(|e| format!("code bucket: {}", DisplayErrorContext(e)))?;
    let empty_zip = [b"PK\x05\x06".as_slice(), &[0u8; 18]].concat();
    resources::put_object(&clients.s3, &code_bucket, "function.zip", empty_zip)
        .await
        .map_err(|e| format!("code: {e}"))?;

    let mut t =
        cloudformation::translate(&["--code-uri", &format!("s3://{code_bucket}/function.zip")]);
    let left_out = for_moto(&mut t);

    let stack = moto::unique_name("tmpl");
    let dir = std::env::temp_dir().join(&stack);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let template_file = dir.join("template.json");
    std::fs::write(&template_file, t.to_string()).map_err(|e| format!("{e}"))?;
    let root = moto::repository_root();
    let out = tokio::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/template/deploy.py"))
        .arg(endpoint)
        .arg(&stack)
        .arg(&template_file)
        .args(parameters.iter().map(|(k, v)| format!("{k}={v}")))
        .output()
        .await
        .map_err(|e| format!("running deploy.py: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(format!(
            "deploy.py: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let d: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("deploy.py's output: {e}"))?;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let strings = |v: &Value| -> HashMap<String, String> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
            .collect()
    };
    let resources = d["resources"].as_array().cloned().unwrap_or_default();
    let created = resources
        .iter()
        .filter_map(|r| text(&r["logical"]))
        .collect();
    let physical = resources
        .iter()
        .filter_map(|r| Some((text(&r["logical"])?, text(&r["physical"])?)))
        .collect();
    let functions = d["functions"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, f)| {
            let function = Function {
                arn: text(&f["arn"]).unwrap_or_default(),
                runtime: text(&f["runtime"]),
                handler: text(&f["handler"]),
                timeout: f["timeout"].as_i64(),
                environment: strings(&f["environment"]),
            };
            (name.clone(), function)
        })
        .collect();
    let rules = d["rules"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, r)| {
            let rule = Rule {
                schedule: text(&r["schedule"]),
                targets: r["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(text)
                    .collect(),
            };
            (name.clone(), rule)
        })
        .collect();
    Ok(Deployed {
        stack,
        left_out,
        created,
        physical,
        outputs: strings(&d["outputs"]),
        functions,
        rules,
        config,
    })
}
