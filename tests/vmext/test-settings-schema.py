#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""docs/vmext-settings.schema.json and ibup's settings parser agree.

Each public settings document in settings-valid.json must validate against the schema
and be taken by 'ibup vmext enable'; each in settings-invalid.json must fail both, ibup
with an error status (code 1) naming what is wrong.

    test-settings-schema.py IBUP_BINARY SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed")
    sys.exit(77)

ibup, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
here = os.path.join(src, "tests/vmext")
schema = json.load(open(os.path.join(src, "docs/vmext-settings.schema.json")))
validator = jsonschema.Draft202012Validator(schema)
failures = 0
tmp = tempfile.mkdtemp(prefix="ibup-vmext-schema-")
root = os.path.join(tmp, "root")
shutil.copytree(os.path.join(src, "tests/fixtures/hbv3"), root, symlinks=True)
hdir = os.path.join(tmp, "handler")
os.makedirs(os.path.join(hdir, "config"))
with open(os.path.join(hdir, "HandlerEnvironment.json"), "w") as f:
    json.dump([{"name": "Ibup.InfiniBand", "version": 1.0, "handlerEnvironment": {
        "logFolder": os.path.join(tmp, "log"), "configFolder": os.path.join(hdir, "config"),
        "statusFolder": os.path.join(hdir, "status"),
        "heartbeatFile": os.path.join(hdir, "heartbeat.log")}}], f)

seq = 0
for name, want in (("settings-valid.json", True), ("settings-invalid.json", False)):
    for doc in json.load(open(os.path.join(here, name))):
        settings = {"runtimeSettings": [{"handlerSettings": {
            "publicSettings": doc, "protectedSettings": None}}]}
        with open(os.path.join(hdir, "config", "%d.settings" % seq), "w") as f:
            json.dump(settings, f)
        r = subprocess.run([ibup, "--root", root, "vmext", "enable", "--handler-dir", hdir],
                           env=dict(os.environ, ConfigSequenceNumber=str(seq)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        status = json.load(open(os.path.join(hdir, "status", "%d.status" % seq)))[0]["status"]
        taken = not (r.returncode == 1 and status["status"] == "error" and
                     "bad settings" in status["formattedMessage"]["message"])
        valid = validator.is_valid(doc)
        ok = valid == want and taken == want
        print("%s %-40s schema %s, ibup %s (%s)" % (
            "ok  " if ok else "FAIL", json.dumps(doc), "valid" if valid else "invalid",
            "takes it" if taken else "refuses it", status["formattedMessage"]["message"][:100]))
        failures += not ok
        seq += 1
shutil.rmtree(tmp)
sys.exit(1 if failures else 0)
