//! The SAM template deployed to moto's CloudFormation, to see what gets created and how it
//! is wired. moto ignores the Serverless transform, so the template is translated first
//! ([`cloudformation::translate`]), and what moto cannot create is left out ([`for_moto`]).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_cloudformation::error::DisplayErrorContext;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use serde_json::{json, Value};

use crate::cloudformation::{self, refers_to};
use crate::{moto, resources, stack};

/// Resource types moto's CloudFormation does not create. They are left out of the
/// deployment, with whatever refers to them (the API's permissions on the alias).
pub const NOT_IN_MOTO: [&str; 10] = [
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

/// A stack moto created from the template.
pub struct Deployed {
    pub stack: String,
    /// Logical ids of the resources left out because moto cannot create them ([`for_moto`]).
    pub left_out: BTreeSet<String>,
    /// Logical ids of the resources moto created; `physical` those with a physical id.
    pub created: BTreeSet<String>,
    pub physical: HashMap<String, String>,
    pub outputs: HashMap<String, String>,
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

    let cfn = aws_sdk_cloudformation::Client::new(&config);
    let stack = moto::unique_name("tmpl");
    cfn.create_stack()
        .stack_name(&stack)
        .template_body(t.to_string())
        .capabilities(Capability::CapabilityIam)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(*k)
                        .parameter_value(*v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| format!("create_stack: {}", DisplayErrorContext(e)))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let description = loop {
        let described = cfn
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .map_err(|e| format!("describe_stacks: {}", DisplayErrorContext(e)))?;
        let s = described.stacks()[0].clone();
        match s.stack_status() {
            Some(StackStatus::CreateInProgress) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Some(StackStatus::CreateComplete) => break s,
            other => {
                return Err(format!(
                    "stack {stack}: {other:?} {:?}",
                    s.stack_status_reason()
                ))
            }
        }
    };
    let outputs = description
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let resources = cfn
        .describe_stack_resources()
        .stack_name(&stack)
        .send()
        .await
        .map_err(|e| format!("describe_stack_resources: {}", DisplayErrorContext(e)))?;
    let created = resources
        .stack_resources()
        .iter()
        .filter_map(|r| r.logical_resource_id().map(str::to_owned))
        .collect();
    let physical = resources
        .stack_resources()
        .iter()
        .filter_map(|r| {
            Some((
                r.logical_resource_id()?.to_owned(),
                r.physical_resource_id()?.to_owned(),
            ))
        })
        .collect();
    Ok(Deployed {
        stack,
        left_out,
        created,
        physical,
        outputs,
        config,
    })
}
