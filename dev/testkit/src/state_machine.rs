//! The nightly run's state machine as template.yaml defines it, for moto: translated by
//! aws-sam-translator (as CloudFormation's Serverless transform would), its definition
//! string joined and its `DefinitionSubstitutions` applied here (moto does not apply
//! them); then created, started and watched through the real SDK.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sfn as sfn;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;

use crate::moto::repository_root;

/// The logical id of the state machine in template.yaml.
pub const LOGICAL_ID: &str = "NightlyRun";

/// template.yaml translated to plain CloudFormation (`tests/template/translate.py`).
pub fn translated_template() -> Result<Value, String> {
    let python = crate::moto::setup_venv_tool("python")?;
    let out = std::process::Command::new(&python)
        .arg(repository_root().join("tests/template/translate.py"))
        .output()
        .map_err(|e| format!("running {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "translate.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("translate.py's output: {e}"))
}

/// The definition as CloudFormation would hand it to Step Functions, with each
/// `${name}` of its `DefinitionSubstitutions` replaced by `values[name]`. Every
/// substitution must be given a value, and every value must be used.
pub fn definition(template: &Value, values: &BTreeMap<&str, String>) -> Result<String, String> {
    let props = &template["Resources"][LOGICAL_ID]["Properties"];
    let joined = props["DefinitionString"]["Fn::Join"]
        .as_array()
        .filter(|join| join.len() == 2)
        .ok_or("the state machine's DefinitionString is not an Fn::Join")?;
    let separator = joined[0].as_str().ok_or("Fn::Join separator")?;
    let lines: Vec<&str> = joined[1]
        .as_array()
        .ok_or("Fn::Join list")?
        .iter()
        .map(|l| l.as_str().ok_or("an intrinsic inside the definition"))
        .collect::<Result<_, _>>()?;
    let mut text = lines.join(separator);
    let names: Vec<&String> = props["DefinitionSubstitutions"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    for name in &names {
        let value = values
            .get(name.as_str())
            .ok_or_else(|| format!("no value for the substitution {name}"))?;
        text = text.replace(&format!("${{{name}}}"), value);
    }
    if let Some(unused) = values.keys().find(|k| !names.iter().any(|n| n == *k)) {
        return Err(format!(
            "{unused} is not one of the template's substitutions"
        ));
    }
    if text.contains("${") {
        return Err(format!("a substitution is left in the definition: {text}"));
    }
    Ok(text)
}

/// Creates a Standard state machine named `name` with `definition`.
pub async fn create(client: &sfn::Client, name: &str, definition: &str) -> Result<String, String> {
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/nightly-run")
        .r#type(sfn::types::StateMachineType::Standard)
        .send()
        .await
        .map(|out| out.state_machine_arn)
        .map_err(|e| format!("CreateStateMachine: {}", sfn::error::DisplayErrorContext(e)))
}

/// Waits until the execution has ended (or `timeout`), and answers its description.
pub async fn wait_for_end(
    client: &sfn::Client,
    execution_arn: &str,
    timeout: Duration,
) -> Result<sfn::operation::describe_execution::DescribeExecutionOutput, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let described = client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|e| format!("DescribeExecution: {}", sfn::error::DisplayErrorContext(e)))?;
        if described.status != ExecutionStatus::Running {
            return Ok(described);
        }
        if Instant::now() > deadline {
            return Err(format!("{execution_arn} still running after {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The execution's history: each event's type (and a failure's error and cause), in order.
pub async fn history(client: &sfn::Client, execution_arn: &str) -> Result<Vec<Value>, String> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_execution_history()
            .execution_arn(execution_arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "GetExecutionHistory: {}",
                    sfn::error::DisplayErrorContext(e)
                )
            })?;
        for event in page.events() {
            let mut e = serde_json::json!({ "type": event.r#type().as_str() });
            if let Some(failed) = event.task_failed_event_details() {
                e["error"] = failed.error().unwrap_or_default().into();
                e["cause"] = failed.cause().unwrap_or_default().into();
            }
            if let Some(failed) = event.execution_failed_event_details() {
                e["error"] = failed.error().unwrap_or_default().into();
                e["cause"] = failed.cause().unwrap_or_default().into();
            }
            events.push(e);
        }
        match page.next_token {
            Some(next) => token = Some(next),
            None => return Ok(events),
        }
    }
}

/// An SDK client for the state machines on moto at `endpoint`.
pub async fn client(endpoint: &str) -> sfn::Client {
    sfn::Client::new(&crate::moto::sdk_config(endpoint).await)
}
