#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ibup reads waagent.conf as the agent does: compare ibup_waagent_conf_value() (through
tests/unit/waagent-conf-value) with WALinuxAgent's own ConfigurationProvider.load over
tricky lines. Needs the agent's Python package (Debian: apt-get install waagent);
exits 77 (skipped) without it.

usage: test-waagent-agent.py WAAGENT-CONF-VALUE
"""
import os
import subprocess
import sys
import tempfile

try:
    from azurelinuxagent.common.conf import ConfigurationProvider
except ImportError:
    # Debian's package goes into the system Python's dist-packages.
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3" \
            and not os.environ.get("IBUP_REEXEC"):
        os.environ["IBUP_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIP: azurelinuxagent is not installed (apt-get install waagent)")
    sys.exit(77)

KEYS = ["OS.EnableRDMA", "OS.CheckRdmaDriver", "OS.UpdateRdmaDriver"]

# Each case is the bytes of a whole waagent.conf.
CASES = [
    b"OS.EnableRDMA=y\n",
    b"os.enablerdma=y\n",                       # keys are case-sensitive
    b"OS.EnableRDMA=Y\n",                       # switches are not
    b'OS.EnableRDMA="y"\n',
    b"OS.EnableRDMA=y#c\n",
    b"OS.EnableRDMA=y # comment\n",
    b"OS.EnableRDMA = y \n",
    b"  OS.EnableRDMA=y\n",
    b" # OS.EnableRDMA=y\n",                    # not a comment to the agent
    b"#OS.EnableRDMA=y\n",
    b"OS.EnableRDMA=y\r\n",
    b"OS.EnableRDMA=n\nOS.EnableRDMA=y\n",      # the last wins
    b"OS.EnableRDMA=y\nOS.EnableRDMA=n\n",
    b"OS.EnableRDMA=y\nOS.EnableRDMA=None\n",   # None is no value
    b"OS.EnableRDMA=yes\n",
    b"OS.EnableRDMA=\n",
    b"OS.EnableRDMA\n",
    b"OS.EnableRDMA==y\n",
    b'OS.EnableRDMA=" y "\n',
    b"OS.EnableRDMA='y'\n",
    b"OS.EnableRDMA=\"\"y\"\"\n",
    b"OS.EnableRDMA=\ty\t\n",
    b"OS.EnableRDMA=y\x0b\x0c\n",
    b"OS.EnableRDMA=y\x1c\x1f\n",
    b"\x1cOS.EnableRDMA\x1d=y\n",
    b"OS.EnableRDMA=\xc2\xa0y\xc2\xa0\n",       # NO-BREAK SPACE: Python strips it
    b"OS.EnableRDMA=y\xe3\x80\x80\n",           # IDEOGRAPHIC SPACE
    b"\xe2\x80\x83OS.EnableRDMA=y\n",           # EM SPACE before the key
    b"OS.EnableRDMA=y\xe2\x80\x8b\n",           # ZERO WIDTH SPACE is not whitespace
    b"OS.EnableRDMA=\xc3\xbf\n",
    b"OS.EnableRDMA=y\nOS.CheckRdmaDriver=Y\nOS.UpdateRdmaDriver=N\n",
    b"OS.CheckRdmaDriver = y # on\n",
    b"OS.EnableRDMA=y\n\xff\xfe\n",             # not UTF-8: the agent cannot load it
    b"OS.EnableRDMA=y",                          # no final newline
    b"x=1\nOS.EnableRDMA=#y\n",
    b"OS.EnableRDMA=n # y\nOS.EnableRDMA\n",
]


def agent(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ["not utf-8"] * len(KEYS)
    conf = ConfigurationProvider()
    conf.load(text)
    out = []
    for k in KEYS:
        sw = conf.get_switch(k, None)
        s = "y" if sw is True else "n" if sw is False else "-"
        v = conf.values.get(k)
        out.append(f"{k}=<{v}>|{s}" if v is not None else f"{k} absent|{s}")
    return out


def ibup(tool, data):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    try:
        r = subprocess.run([tool, f.name] + KEYS, capture_output=True, check=True)
    finally:
        os.unlink(f.name)
    return r.stdout.decode("utf-8", "replace").splitlines()


def main():
    tool = sys.argv[1]
    bad = 0
    for data in CASES:
        want, got = agent(data), ibup(tool, data)
        if want != got:
            print(f"FAIL {data!r}: agent {want}, ibup {got}")
            bad = 1
        else:
            print(f"ok   {data!r}: {got[0]}")
    sys.exit(bad)


main()
