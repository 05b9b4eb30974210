"""Translates template.yaml (AWS::Serverless-2016-10-31) into plain CloudFormation JSON on
stdout, as CloudFormation's Serverless transform does at deploy time, so that the template
can be deployed to moto (which does not run the transform) and inspected by the tests.

    translate.py [--template template.yaml] [--code-uri s3://bucket/key] [Name=Value ...]

Name=Value are parameter values (the rest take their defaults). --code-uri replaces every
function's CodeUri, as `sam package` does with the uploaded build (default
s3://code/function.zip). Runs offline: no credentials, no AWS calls (the template names no
managed policies).
"""

import argparse
import json
import logging
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402
from samtranslator.parser.parser import Parser  # noqa: E402
from samtranslator.translator.translator import Translator  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--template", default=os.path.join(os.path.dirname(__file__), "../../template.yaml"))
    args.add_argument("--code-uri", default="s3://code/function.zip")
    args.add_argument("parameters", nargs="*", metavar="Name=Value")
    opts = args.parse_args()

    with open(opts.template, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = opts.code_uri
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"].pop("CodeUri", None)
    parameters = dict(p.split("=", 1) for p in opts.parameters)

    # The translator warns about feature toggles it is not given (CloudFormation's own).
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    session = boto3.session.Session(region_name=os.environ["AWS_DEFAULT_REGION"])
    translated = Translator({}, Parser(), boto_session=session).translate(
        template, parameter_values=parameters, get_managed_policy_map=lambda: {}
    )
    json.dump(translated, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
