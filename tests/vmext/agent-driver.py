#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Drive ibup's extension handler through the real Azure Linux agent's code.

The agent's extension handling (azurelinuxagent.ga.exthandlers, Debian's waagent
package) runs here as a library: the wire-server protocol object is replaced by one
that serves the package built by tools/build-vmext-zip.sh from a local file, and the
agent's directories point into a temporary directory. Everything else is the agent's:
it unpacks the zip, lays out the handler directory, writes HandlerEnvironment.json and
the settings, runs the manifest's commands with its environment and timeouts through
ibup-vmext.sh, and parses the status and heartbeat files with its own code. The
assertions are on what the agent would report (its VMStatus).

    agent-driver.py IBUP_BINARY SOURCE_DIR

IBUP_AGENT_SCENARIO=background (say) runs that scenario alone. IBUP_AGENT_SHOW=DIR
writes what the agent reports for the healthy node and the port down (its handler status
as it sends it to Azure, wire.ext_handler_status_to_v1) to DIR/healthy.json and
DIR/port-down.json.

Exits 77 when the azurelinuxagent package is not installed (apt-get install waagent).
"""
import copy
import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

try:
    import azurelinuxagent.common.conf as conf
    import azurelinuxagent.common.logger as logger
    import azurelinuxagent.ga.exthandlers as exthandlers
    from azurelinuxagent.common.protocol.restapi import (
        Extension, ExtensionSettings, ExtHandlerPackage, ExtHandlerPackageList)
except ImportError as e:
    print("SKIP: the Azure Linux agent's python package is missing (%s): "
          "apt-get install waagent" % e)
    sys.exit(77)

IBUP, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
NAME, VERSION = "Ibup.InfiniBand", "1.0.0"
TMP = tempfile.mkdtemp(prefix="ibup-agent-")
FAILURES = []


def check(cond, what):
    print("  %s %s" % ("ok  " if cond else "FAIL", what))
    if not cond:
        FAILURES.append(what)


class Protocol(object):
    """The wire server, as far as extension handling asks it: one local package."""

    def __init__(self, zip_path):
        self.packages = {VERSION: zip_path}
        self.vm_status = None

    def get_ext_handler_pkgs(self, ext_handler):
        pkgs = ExtHandlerPackageList()
        for version, path in sorted(self.packages.items()):
            pkg = ExtHandlerPackage(version=version)
            pkg.uris.append("file://" + path)
            pkgs.versions.append(pkg)
        return pkgs

    def download_ext_handler_pkg(self, uri, destination):
        shutil.copyfile(uri[len("file://"):], destination)
        return True

    def get_endpoint(self):
        return "127.0.0.1"

    def report_vm_status(self, vm_status):
        self.vm_status = vm_status

    def get_status_blob_data(self):
        return None

    def get_incarnation(self):
        return "1"


# Every command the agent launches, with its exit: the agent's own launch_command runs it.
LAUNCHED = []
# A command's timeout, shortened (the agent's are 300 s and 900 s): {cmd_name: seconds}.
TIMEOUTS = {}
_launch = exthandlers.ExtHandlerInstance.launch_command


def launch_spy(self, cmd, cmd_name=None, **kwargs):
    if cmd_name in TIMEOUTS:
        kwargs["timeout"] = TIMEOUTS[cmd_name]
    try:
        out = _launch(self, cmd, cmd_name=cmd_name, **kwargs)
        LAUNCHED.append((cmd_name, 0, out))
        return out
    except Exception as e:  # the agent's ExtensionError: record and let it go on
        LAUNCHED.append((cmd_name, getattr(e, "exit_code", getattr(e, "code", -1)), str(e)))
        raise


exthandlers.ExtHandlerInstance.launch_command = launch_spy


def build_zip(path, manifest=None, arch=None):
    subprocess.run([os.path.join(SRC, "tools/build-vmext-zip.sh"), IBUP, path],
                   check=True, stdout=subprocess.DEVNULL)
    if manifest is None and arch is None:
        return path
    # A variant: the same package with another manifest or another architecture.
    variant = path + ".variant"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(variant, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "HandlerManifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            if info.filename == "bin/ARCH" and arch is not None:
                data = (arch + "\n").encode()
            dst.writestr(info, data)
    os.replace(variant, path)
    return path


class Agent(object):
    """One VM: the agent's lib and log directories, one handler, a fixture root."""

    def __init__(self, name, fixture, zip_path):
        self.dir = os.path.join(TMP, name)
        self.lib = os.path.join(self.dir, "lib")
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.lib)
        os.makedirs(os.path.join(self.dir, "log"))
        shutil.copytree(os.path.join(SRC, "tests/fixtures", fixture), self.root,
                        symlinks=True)
        conf.get_lib_dir = lambda conf=None: self.lib
        conf.get_ext_log_dir = lambda conf=None: os.path.join(self.dir, "log")
        # The handler reads the platform under the fixture root: ibup takes IBUP_ROOT,
        # and the agent passes its own environment to the commands it runs.
        os.environ["IBUP_ROOT"] = self.root
        self.protocol = Protocol(zip_path)
        self.handlers = exthandlers.ExtHandlersHandler(self.protocol)
        self.ext = Extension(name=NAME)
        self.ext.version = VERSION
        self.base = os.path.join(self.lib, "%s-%s" % (NAME, VERSION))

    def goal_state(self, state, seq, public, protected=None, thumbprint=None):
        """Process one goal state asking for @state, as the agent's main loop does."""
        del LAUNCHED[:]
        self.ext.state = state
        self.ext.settings = [ExtensionSettings(
            name=NAME, sequenceNumber=seq, publicSettings=copy.deepcopy(public),
            protectedSettings=protected, certificateThumbprint=thumbprint,
            state="enabled")]
        self.handlers.ext_handlers = [self.ext]
        self.handlers.handle_ext_handlers(etag=str(seq))
        vm_status = self.handlers.report_ext_handlers_status(incarnation_changed=True)
        handlers = vm_status.vmAgent.extensionHandlers if vm_status else []
        return handlers[0] if handlers else None

    def launched(self):
        return [(name, code) for name, code, _ in LAUNCHED]

    def instance(self):
        return exthandlers.ExtHandlerInstance(self.ext, self.protocol)

    def status_file(self, seq):
        return os.path.join(self.base, "status", "%d.status" % seq)

    def report(self):
        """What the agent reports now, without processing a goal state."""
        vm_status = self.handlers.report_ext_handlers_status(incarnation_changed=True)
        handlers = vm_status.vmAgent.extensionHandlers if vm_status else []
        return handlers[0] if handlers else None

    def hold_lock(self):
        """Another ibup run changing the host: it holds ibup's one lock."""
        path = os.path.join(self.root, "var/lib/ibup/lock")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        f = open(path, "a")
        fcntl.flock(f, fcntl.LOCK_EX)
        return f

    def parsed(self, seq):
        """status/<seq>.status as the agent's parse_ext_status reads it."""
        es = exthandlers.ExtensionStatus(seq_no=seq)
        exthandlers.parse_ext_status(es, json.load(open(self.status_file(seq))))
        return es

    def wait_terminal(self, seq, limit=30):
        """Wait for the background work's verdict in status/<seq>.status."""
        end = time.time() + limit
        while time.time() < end:
            try:
                es = self.parsed(seq)
                if es.status in ("success", "error"):
                    return es
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        return None

    def worker_log(self):
        logs = glob.glob(os.path.join(self.dir, "log", "*", "ibup-vmext.log"))
        return open(logs[0]).read() if logs else ""

    def worker_pid(self):
        try:
            kind, what, _ = open(os.path.join(self.base, "worker")).read().split()
        except (OSError, ValueError):
            return None
        return int(what) if kind == "process" else None


def show(name, handler):
    """Keep what the agent would send to Azure for @handler, when asked to."""
    where = os.environ.get("IBUP_AGENT_SHOW")
    if where and handler is not None:
        from azurelinuxagent.common.protocol.wire import ext_handler_status_to_v1
        with open(os.path.join(where, name + ".json"), "w") as f:
            json.dump(ext_handler_status_to_v1(handler), f, indent=2)
            f.write("\n")


def ext_status(handler):
    return handler.extension_status if handler is not None else None


def substatus(es):
    return {s.name: s for s in es.substatusList} if es is not None else {}


def common(a, handler, seq):
    """What every reported status must have: a file, parsed by the agent, terminal."""
    es = ext_status(handler)
    check(os.path.isfile(a.status_file(seq)), "status/%d.status exists" % seq)
    check(es is not None and es.sequenceNumber == seq,
          "the agent reports an extension status for sequence number %d" % seq)
    check(es is not None and "no status file" not in (es.message or ""),
          "the agent did not make up a status")
    check(es is not None and es.status in ("success", "error"),
          "the status is terminal for the agent (%s)" % (es.status if es else None))
    check(es is not None and len(es.message or "") <= 1024, "message within 1 KiB")
    return es


HBV3 = {"ipoib": True, "check": True}


def scenario_lifecycle(zip_path):
    print("lifecycle on hbv3: install, enable 0, enable 1, disable, uninstall")
    a = Agent("lifecycle", "hbv3", zip_path)

    # A real protectedSettings is a base64 CMS blob with a thumbprint: never read.
    h = a.goal_state("enabled", 0, HBV3, protected="MIIBsAYJKoZIhvcNAQcDoIIBoTCCAZ0C",
                     thumbprint="6A2C3B1F0E5D4C3B2A1F0E9D8C7B6A5F4E3D2C1B")
    check(a.launched() == [("install", 0), ("enable", 0)],
          "the agent ran install then enable, both exit 0: %s" % a.launched())
    show("healthy", h)
    env = json.load(open(os.path.join(a.base, "HandlerEnvironment.json")))
    check(env[0]["handlerEnvironment"]["statusFolder"] == os.path.join(a.base, "status"),
          "the agent wrote HandlerEnvironment.json")
    es = common(a, h, 0)
    check(h.status == "Ready", "handler Ready (%s: %s)" % (h.status, h.message))
    check(es.status == "success" and es.code == 0, "enable 0: success, code 0")
    check(es.operation == "Enable", "operation Enable")
    subs = substatus(es)
    check([x.name for x in es.substatusList] == ["install", "ipoib", "check"],
          "substatus install, ipoib, check: %s" % [x.name for x in es.substatusList])
    check(subs["install"].status == "success" and "not run" in subs["install"].message,
          "install not run without \"stack\": %s" % subs["install"].message)
    check(subs["ipoib"].status in ("success", "warning") and "172.16.1.9" in subs["ipoib"].message,
          "ipoib substatus names the platform's address: %s" % subs["ipoib"].message)
    check(subs["check"].status in ("success", "warning") and subs["check"].code == 0,
          "check substatus passes: %s" % subs["check"].message)
    check(os.path.isfile(os.path.join(a.root, "etc/systemd/system/ibup-ipoib.service")),
          "IPoIB at boot: ibup-ipoib.service written under the root")
    check(open(os.path.join(a.base, "mrseq")).read().strip() == "0", "mrseq 0")
    check(a.instance().get_handler_state() == "Enabled", "HandlerState Enabled")

    # The agent restarts: enable again with the same number; nothing is redone.
    before = open(a.status_file(0)).read()
    h = a.goal_state("enabled", 0, HBV3)
    check(a.launched() == [("enable", 0)] and open(a.status_file(0)).read() == before,
          "enable 0 again: skipped through mrseq, status untouched")

    # New settings, new sequence number; protectedSettings null.
    h = a.goal_state("enabled", 1, {"ipoib": False, "check": True})
    check(a.launched() == [("enable", 0)], "enable 1 ran: %s" % a.launched())
    es = common(a, h, 1)
    check(es.status == "success", "enable 1: success")
    subs = substatus(es)
    check("not run" in subs["ipoib"].message, "ipoib false: not run (%s)" % subs["ipoib"].message)
    check(json.load(open(os.path.join(a.base, "config/1.settings")))["runtimeSettings"][0]
          ["handlerSettings"]["publicSettings"] == {"ipoib": False, "check": True},
          "the agent wrote config/1.settings")
    check(open(os.path.join(a.base, "mrseq")).read().strip() == "1", "mrseq 1")

    h = a.goal_state("disabled", 1, {"ipoib": False, "check": True})
    check(a.launched() == [("disable", 0)], "disable ran, exit 0: %s" % a.launched())
    es = common(a, h, 1)
    check(es.status == "success" and es.operation == "Disable", "disable: success")
    check(h.status == "NotReady" and h.message == "Plugin disabled",
          "handler NotReady, 'Plugin disabled' (%s)" % h.message)
    check(not os.path.exists(os.path.join(a.root, "etc/systemd/system/ibup-ipoib.service")),
          "disable removed ibup-ipoib.service")
    check(not os.path.exists(os.path.join(a.base, "mrseq")), "disable removed mrseq")

    h = a.goal_state("uninstall", 1, {"ipoib": False, "check": True})
    check(a.launched() == [("uninstall", 0)], "uninstall ran, exit 0: %s" % a.launched())
    check(not os.path.exists(a.base), "the agent removed the handler directory")
    check(h is None or ext_status(h) is None, "nothing left to report")


def scenario_upgrade(zip_path):
    print("hbv3: the handler upgraded from %s to 1.0.1" % VERSION)
    a = Agent("upgrade", "hbv3", zip_path)
    unit = os.path.join(a.root, "etc/systemd/system/ibup-ipoib.service")
    h = a.goal_state("enabled", 0, HBV3)
    check(ext_status(h) is not None and ext_status(h).status == "success" and
          os.path.isfile(unit), "%s enabled, IPoIB at boot" % VERSION)
    a.protocol.packages["1.0.1"] = zip_path
    a.ext.version = "1.0.1"
    h = a.goal_state("enabled", 0, HBV3)
    # The agent's order: the old one disabled, the new one updated, the old one
    # uninstalled, the new one installed (UpdateWithInstall) and enabled.
    check(a.launched() == [("disable", 0), ("update", 0), ("uninstall", 0), ("install", 0),
                           ("enable", 0)], "upgrade sequence: %s" % a.launched())
    a.base = os.path.join(a.lib, "%s-1.0.1" % NAME)
    es = common(a, h, 0)
    check(es.status == "success" and es.operation == "Enable",
          "1.0.1 enable of the same sequence number ran again: %s" % es.message)
    # disable removed mrseq before the agent copied the old handler's state over, so
    # the new enable did not skip: the boot-time setup the disable removed is back.
    check(os.path.isfile(unit), "IPoIB at boot again after the upgrade")
    check(not os.path.exists(os.path.join(a.lib, "%s-%s" % (NAME, VERSION))),
          "the agent removed the old handler directory")
    check(open(os.path.join(a.base, "mrseq")).read().strip() == "0", "mrseq 0 in 1.0.1")


def scenario_check_fails(zip_path):
    print("ib-down-polling: check fails")
    a = Agent("ib-down", "ib-down-polling", zip_path)
    h = a.goal_state("enabled", 0, HBV3)
    check(a.launched() == [("install", 0), ("enable", 14)],
          "enable exits 14 (operation unsuccessful): %s" % a.launched())
    show("port-down", h)
    es = common(a, h, 0)
    check(es.status == "error" and es.code == 14, "error, code 14 (%s %s)" % (es.status, es.code))
    check(h.status == "NotReady" and "Non-zero exit code: 14" in (h.message or ""),
          "handler NotReady with the agent's own reason")
    sub = substatus(es)["check"]
    check(sub.status == "error" and "fix:" in sub.message,
          "check substatus error with the fixes: %s" % sub.message[:200])
    check(es.message.startswith("check failed:"), "message says check failed: %s" % es.message[:120])
    check(not os.path.exists(os.path.join(a.base, "mrseq")), "no mrseq after a failure")


def scenario_bad_settings(zip_path):
    print("malformed settings and a missing HandlerEnvironment.json")
    a = Agent("settings", "hbv3", zip_path)
    cases = [
        (0, {"ipoib": "yes"}, "publicSettings.ipoib must be true or false"),
        (1, {"check": True, "frobnicate": 1}, "unknown key 'frobnicate'"),
        (2, {"checkBench": True}, "checkBench is not part of this version"),
        (3, ["ipoib"], "publicSettings must be an object"),
    ]
    for seq, public, want in cases:
        h = a.goal_state("enabled", seq, public)
        es = common(a, h, seq)
        check(es.status == "error" and es.code == 1 and want in es.message,
              "settings %s: error, code 1, '%s' (%s)" % (json.dumps(public), want, es.message))
        check(a.launched()[-1][1] == 1, "the command exited 1: %s" % a.launched())

    # Good settings again, then the agent's handler environment goes missing.
    h = a.goal_state("enabled", 4, {"check": False})
    check(ext_status(h) is not None and ext_status(h).status == "success", "enable 4: success")
    os.remove(os.path.join(a.base, "HandlerEnvironment.json"))
    h = a.goal_state("enabled", 5, {"check": False})
    es = common(a, h, 5)
    check(es.status == "error" and es.code == 1 and "HandlerEnvironment.json" in es.message,
          "no HandlerEnvironment.json: error, code 1, named (%s)" % es.message)

    # A settings file that is not JSON at all (a truncated write).
    with open(os.path.join(a.base, "config/6.settings"), "w") as f:
        f.write('{"runtimeSettings": [{"handlerSettings": {"publicSett')
    a.instance().create_handler_env()
    os.environ["ConfigSequenceNumber"] = "6"
    try:
        r = subprocess.run([os.path.join(a.base, "ibup-vmext.sh"), "enable"], cwd=a.base,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        del os.environ["ConfigSequenceNumber"]
    st = json.load(open(a.status_file(6)))
    es = exthandlers.ExtensionStatus(seq_no=6)
    exthandlers.parse_ext_status(es, st)
    check(r.returncode == 1 and es.status == "error" and "not JSON" in es.message,
          "truncated settings: error the agent parses (%s)" % es.message)


def scenario_heartbeat(zip_path):
    print("heartbeat, as the manifest asks")
    with zipfile.ZipFile(zip_path) as z:
        manifest = json.loads(z.read("HandlerManifest.json"))
    manifest[0]["handlerManifest"]["reportHeartbeat"] = True
    path = build_zip(os.path.join(TMP, "heartbeat.zip"), manifest=manifest)
    a = Agent("heartbeat", "hbv3", path)
    h = a.goal_state("enabled", 0, {"check": False})
    beat = a.instance().collect_heartbeat()
    check(beat is not None and beat.get("status") == "Ready",
          "the agent reads the heartbeat: %s" % beat)
    check(h.status == "Ready", "handler status from the heartbeat: %s" % h.status)


def scenario_arch(zip_path):
    print("a package for another architecture")
    path = build_zip(os.path.join(TMP, "arch.zip"), arch="s390x")
    a = Agent("arch", "hbv3", path)
    h = a.goal_state("enabled", 0, HBV3)
    check(a.launched() == [("install", 12)], "install exits 12: %s" % a.launched())
    # A single-config handler whose install failed is reported by its handler status
    # alone (the agent reads no status file while the handler is NotInstalled): the
    # reason reaches it through the command's stderr, which the agent quotes.
    check(h is not None and h.status == "NotReady" and h.code == 1007 and
          "s390x" in (h.message or "") and "Non-zero exit code: 12" in h.message,
          "handler NotReady, code 1007, the reason quoted: %s"
          % (h.message.replace("\n", " ") if h else None))
    st = json.load(open(a.status_file(0)))
    es = exthandlers.ExtensionStatus(seq_no=0)
    exthandlers.parse_ext_status(es, st)
    check(es.status == "error" and es.code == 12 and "s390x" in es.message,
          "the error status ibup-vmext.sh wrote parses (agent's parse_ext_status): %s"
          % es.message)


def scenario_install(zip_path):
    print("the install step: a stack installed already, a refusal, a package manager failing")
    a = Agent("install", "hbv3", zip_path)
    # The tree is installed into with 'chroot ROOT apt-get': it needs one to be planned.
    os.makedirs(os.path.join(a.root, "usr/bin"), exist_ok=True)
    open(os.path.join(a.root, "usr/bin/apt-get"), "w").close()
    h = a.goal_state("enabled", 0, {"stack": "mofed", "check": False})
    es = common(a, h, 0)
    subs = substatus(es)
    check(es.status == "success" and subs["install"].status == "success" and
          "mofed 24.07-0.6.1.0 is installed already" in subs["install"].message,
          "mofed there already: install success (%s)" % subs["install"].message)
    check(subs["ipoib"].status in ("success", "warning"), "then ipoib ran")

    h = a.goal_state("enabled", 1, {"stack": "inbox"})
    es = common(a, h, 1)
    subs = substatus(es)
    check(es.status == "error" and es.code == 1 and a.launched()[-1] == ("enable", 1) and
          "needs --replace" in subs["install"].message,
          "inbox over mofed: refused, code 1, the way out named (%s)" % subs["install"].message)
    check("not run: install failed" in subs["ipoib"].message and
          "not run: install failed" in subs["check"].message,
          "ipoib and check not run after it")
    check(es.message.startswith("install failed:"), "message: %s" % es.message[:80])

    # Debian 12 without a usable apt-get in the tree: the plan's first step fails.
    b = Agent("install-fails", "softroce", zip_path)
    os.makedirs(os.path.join(b.root, "usr/bin"), exist_ok=True)
    open(os.path.join(b.root, "usr/bin/apt-get"), "w").close()
    h = b.goal_state("enabled", 0, {"stack": "inbox", "ipoib": False})
    es = common(b, h, 0)
    sub = substatus(es)["install"]
    check(es.status == "error" and es.code == 14 and sub.code == 14 and
          "step 1 of 5" in sub.message and "apt-get" in sub.message,
          "apt-get failing: install error, code 14, the step named (%s)" % sub.message)
    journal = glob.glob(os.path.join(b.root, "var/lib/ibup/*journal*"))
    check(len(journal) == 1, "the executor's journal is left for the next enable to resume")
    before = open(journal[0]).read() if journal else None
    # disable with that journal there: its own small plan runs, the journal stays. (The
    # agent skips disable for a handler whose enable failed: run it as the agent does.)
    try:
        b.instance().launch_command("ibup-vmext.sh disable", cmd_name="disable", timeout=60,
                                    extension=b.ext.settings[0])
        rc = 0
    except Exception as e:  # pylint: disable=broad-except
        rc = getattr(e, "exit_code", -1)
    es = b.parsed(0)
    check(rc == 0 and es.status == "success" and es.operation == "Disable" and
          "left for the next enable to resume" in es.message,
          "disable with an unfinished install journaled: exit 0, success, says so (%s)"
          % es.message)
    check(journal and open(journal[0]).read() == before, "the journal is untouched")


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def scenario_background(zip_path):
    print("hbv3: the work in the background (another ibup run holds the lock meanwhile)")
    a = Agent("background", "hbv3", zip_path)

    # Enable past its timeout: the agent kills enable's process group after 3 s.
    t0 = time.time()
    lock = a.hold_lock()
    TIMEOUTS["enable"] = 3
    try:
        h = a.goal_state("enabled", 0, HBV3)
    finally:
        del TIMEOUTS["enable"]
    check(a.launched()[0] == ("install", 0) and a.launched()[1][0] == "enable" and
          a.launched()[1][1] != 0, "the agent timed enable out: %s" % a.launched())
    es = ext_status(h)
    check(es is not None and es.status == "transitioning" and
          ("waiting for another ibup run" in es.message or "in the background" in es.message),
          "the agent reports transitioning: %s" % (es.message if es else None))
    pid = a.worker_pid()
    check(pid is not None and alive(pid), "the worker outlived enable (process %s)" % pid)
    lock.close()
    es = a.wait_terminal(0)
    check(es is not None and es.status == "success" and es.code == 0,
          "the worker finished: success (%s)" % (es.message if es else None))
    es = ext_status(a.report())
    check(es is not None and es.status == "success" and
          sorted(substatus(es)) == ["check", "install", "ipoib"],
          "the agent reports success with the three substatuses")
    check(open(os.path.join(a.base, "mrseq")).read().strip() == "0", "mrseq 0 (the worker)")
    h = a.goal_state("enabled", 0, HBV3)
    check(a.launched() == [("enable", 0)] and h.status == "Ready",
          "the agent's next enable: nothing to redo, Ready (%s)" % h.status)
    print("  (%.1f s)" % (time.time() - t0))

    # Two enables at once, with the lock held: both return, the work runs once.
    t0 = time.time()
    h = a.goal_state("enabled", 1, {"ipoib": False, "check": True})
    check(ext_status(h).status == "success", "enable 1: success")
    lock = a.hold_lock()
    settings = copy.deepcopy(a.ext.settings[0])
    settings.sequenceNumber = 2
    settings.publicSettings = {"ipoib": True, "check": True}
    a.ext.settings = [settings]
    a.instance().update_settings(settings)  # the agent writes config/2.settings
    out = []

    def one():
        try:
            out.append(a.instance().launch_command("ibup-vmext.sh enable --wait 1", cmd_name="enable",
                                                  timeout=60, extension=settings))
        except Exception as e:  # pylint: disable=broad-except
            out.append("FAILED: %s" % e)
    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(len(out) == 2 and not any(o.startswith("FAILED") for o in out),
          "both enables returned, exit 0: %s" % [o[:80] for o in out])
    check(all("goes on in the background" in o for o in out),
          "both say the work goes on in the background")
    es = a.parsed(2)
    check(es.status == "transitioning", "status 2 transitioning while the lock is held")
    lock.close()
    es = a.wait_terminal(2)
    check(es is not None and es.status == "success", "seq 2: success")
    time.sleep(0.5)  # the second worker, if any, leaves now
    log = a.worker_log()
    check(log.count("sequence number 2: ipoib: applying") == 1,
          "the steps of sequence number 2 ran once (%d times)"
          % log.count("sequence number 2: ipoib: applying"))
    print("  (%.1f s)" % (time.time() - t0))

    # disable stops a running worker.
    t0 = time.time()
    lock = a.hold_lock()
    settings.sequenceNumber = 3
    settings.publicSettings = HBV3
    a.instance().update_settings(settings)
    out = a.instance().launch_command("ibup-vmext.sh enable --wait 0", cmd_name="enable",
                                      timeout=60, extension=settings)
    pid = a.worker_pid()
    check(pid is not None and alive(pid), "a worker for 3 runs (process %s)" % pid)
    # The other run ends while disable runs: disable waits for ibup's lock.
    threading.Timer(3, lock.close).start()
    h = a.goal_state("disabled", 3, HBV3)
    check(a.launched() == [("disable", 0)], "disable ran, exit 0: %s" % a.launched())
    check(pid is not None and not alive(pid), "the worker is stopped")
    check("sequence number 3: ipoib" not in a.worker_log() and
          not os.path.exists(os.path.join(a.base, "mrseq")),
          "... before it did any step (it was waiting for the lock)")
    es = common(a, h, 3)
    check(es.status == "success" and es.operation == "Disable" and
          "stopped the background work of sequence number 3" in es.message,
          "disable: success, says it stopped the work: %s" % es.message)
    check(not os.path.exists(os.path.join(a.base, "worker")), "no worker record left")
    print("  (%.1f s)" % (time.time() - t0))


def main():
    logger.add_logger_appender(logger.AppenderType.FILE, logger.LogLevel.INFO,
                               os.path.join(TMP, "waagent.log"))
    zip_path = build_zip(os.path.join(TMP, "%s__%s.zip" % (NAME, VERSION)))
    only = os.environ.get("IBUP_AGENT_SCENARIO")
    for scenario in (scenario_lifecycle, scenario_upgrade, scenario_check_fails, scenario_bad_settings,
                     scenario_heartbeat, scenario_arch, scenario_background, scenario_install):
        if only and scenario.__name__ != "scenario_" + only:
            continue
        try:
            scenario(zip_path)
        except Exception as e:  # a crash of the scenario is a failure, not an error
            import traceback
            traceback.print_exc()
            FAILURES.append("%s: %s" % (scenario.__name__, e))
    if FAILURES:
        print("\n%d failed (agent log: %s/waagent.log):" % (len(FAILURES), TMP))
        for f in FAILURES:
            print("  " + f)
        return 1
    shutil.rmtree(TMP)
    print("\nall passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
