"""Deploys a plain CloudFormation template (translated by translate.py, stripped of what
moto cannot create) as a new stack on a moto server, waits until it is created, and prints
as JSON what moto made of it: outputs, resources, each Lambda function's configuration
(with its reserved concurrency) and each EventBridge rule's schedule and targets. The
end-to-end tests drive it through `testkit::deploy`, so that they need no CloudFormation, Lambda or EventBridge SDK of their
own (three crates that only this one test used, a tenth of the test build).

    deploy.py ENDPOINT STACK TEMPLATE_FILE [Name=Value ...]

Exits 1, saying why on stderr, when the stack is not created within a minute.
"""

import json
import sys
import time

import boto3


def main() -> int:
    endpoint, stack, template_file, *parameters = sys.argv[1:]
    with open(template_file, encoding="utf-8") as f:
        template = f.read()
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )

    def client(service):
        return session.client(service, endpoint_url=endpoint)

    cfn = client("cloudformation")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=template,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in (p.split("=", 1) for p in parameters)
        ],
    )
    deadline = time.monotonic() + 60
    while True:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if described["StackStatus"] == "CREATE_IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(0.2)
            continue
        break
    if described["StackStatus"] != "CREATE_COMPLETE":
        print(
            f"stack {stack}: {described['StackStatus']} {described.get('StackStatusReason')}",
            file=sys.stderr,
        )
        return 1

    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    lambda_, events = client("lambda"), client("events")
    functions, rules = {}, {}
    for r in resources:
        physical = r.get("PhysicalResourceId")
        if r["ResourceType"] == "AWS::Lambda::Function":
            c = lambda_.get_function_configuration(FunctionName=physical)
            functions[physical] = {
                "arn": c["FunctionArn"],
                "runtime": c.get("Runtime"),
                "handler": c.get("Handler"),
                "timeout": c.get("Timeout"),
                "environment": c.get("Environment", {}).get("Variables", {}),
                "reserved_concurrency": lambda_.get_function_concurrency(
                    FunctionName=physical
                ).get("ReservedConcurrentExecutions"),
            }
        elif r["ResourceType"] == "AWS::Events::Rule":
            rule = events.describe_rule(Name=physical)
            targets = events.list_targets_by_rule(Rule=physical)["Targets"]
            rules[physical] = {
                "schedule": rule.get("ScheduleExpression"),
                "targets": [t["Arn"] for t in targets],
            }
    json.dump(
        {
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
            "resources": [
                {"logical": r["LogicalResourceId"], "physical": r.get("PhysicalResourceId")}
                for r in resources
            ],
            "functions": functions,
            "rules": rules,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
