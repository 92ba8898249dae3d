#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Validate a JSON document against one of ibup's schemas (docs/*.schema.json)."""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    # A python3 earlier in PATH (pyenv, a venv) may lack the distribution's package.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("validate-json: python3-jsonschema is not installed")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: validate-json.py SCHEMA DOCUMENT")
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            sys.exit(f"validate-json: {sys.argv[2]}: not JSON: {e}")
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        where = "/".join(str(p) for p in e.path) or "(top)"
        print(f"validate-json: {sys.argv[2]}: {where}: {e.message}", file=sys.stderr)
    sys.exit(1 if errors else 0)


main()
