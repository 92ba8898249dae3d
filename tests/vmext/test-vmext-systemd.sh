#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ibup vmext where systemd runs: a Debian 12 tree with systemd (mmdebstrap, cached under
# $IBUP_CI_CACHE like tools/fresh-tree.sh's), booted with systemd-nspawn --boot, with
# the extension package laid out as the agent lays it out (ibup-vmext.sh, bin/ibup,
# HandlerEnvironment.json, config/). Inside, systemd-scenario.sh starts the commands as
# the agent does (a scope, a session of their own) and proves the work runs as the
# transient unit ibup-vmext-<n>.service: it survives the agent's kill, a second enable
# joins it, disable stops it, and the status, substatus and mrseq are right.
# Needs root; exits 77 without systemd-nspawn or mmdebstrap (tools/deps.sh --test) or
# without a cgroup file system.
set -euo pipefail
ibup=${1:?usage: test-vmext-systemd.sh IBUP SOURCE_DIR}
src=${2:?}
cache=${IBUP_CI_CACHE:-/var/cache/ibup-ci}
mirror=${IBUP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${IBUP_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
suite=bookworm

# shellcheck source=tools/lib-tree.sh
. "$src/tools/lib-tree.sh"
log() { printf "vmext-systemd: [%3ds] %s\n" "$SECONDS" "$*" >&2; }
die() {
  log "$*"
  exit 1
}
skip() {
  log "skipped: $*"
  exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn)"
for tool in systemd-nspawn mmdebstrap zstd flock; do
  command -v "$tool" >/dev/null || skip "needs $tool (tools/deps.sh --test installs it)"
done
# systemd in the container needs a cgroup hierarchy to run its units in.
findmnt -rn -t cgroup2,cgroup -o TARGET | grep -q '^/sys/fs/cgroup' ||
  skip "no cgroup file system under /sys/fs/cgroup"

# The tree: systemd, udev and D-Bus (as on the images the agent runs on), jq for the
# checks.
mkdir -p "$cache"
exec 9>"$cache/vmext-systemd.lock"
flock -w 1800 9 || die "another run has held $cache/vmext-systemd.lock for 30 minutes"
rm -f "$cache"/.vmext-systemd.*
tarball=$(tree_base_tarball vmext-systemd vmext-systemd systemd udev dbus jq)
exec 9>&-

tree=$(mktemp -d "${TMPDIR:-/var/tmp}/ibup-vmext-systemd.XXXXXX")
trap tree_cleanup EXIT
trap 'exit 130' INT TERM
if [ "${IBUP_CI_TMPFS:-1}" = 1 ]; then
  mount -t tmpfs -o "size=${IBUP_CI_TMPFS_SIZE:-768m},mode=755" ibup-vmext-systemd "$tree"
  mounts+=("$tree")
fi
tar -C "$tree" --zstd -xpf "$tarball"

# ibup and the libraries it was linked with that the tree lacks (the same Debian).
while read -r lib; do
  [ -e "$tree$lib" ] || cp -L "$lib" "$tree$lib"
done < <(ldd "$ibup" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p')

# The extension package as the agent unpacks it, and its handler environment.
h=$tree/var/lib/waagent/Ibup.InfiniBand-1.0.0
mkdir -p "$h/bin" "$h/config" "$h/status" "$tree/var/log/azure/Ibup.InfiniBand" "$tree/ibup-test"
cp "$src/packaging/vmext/ibup-vmext.sh" "$src/packaging/vmext/HandlerManifest.json" "$h/"
cp "$ibup" "$h/bin/ibup"
uname -m >"$h/bin/ARCH"
chmod u+x "$h/ibup-vmext.sh"
g=/var/lib/waagent/Ibup.InfiniBand-1.0.0
cat >"$h/HandlerEnvironment.json" <<JSON
[{"name": "Ibup.InfiniBand", "version": 1.0, "handlerEnvironment": {"logFolder": "/var/log/azure/Ibup.InfiniBand",
  "configFolder": "$g/config", "statusFolder": "$g/status", "heartbeatFile": "$g/heartbeat.log"}}]
JSON
cp "$src/tests/vmext/systemd-scenario.sh" "$tree/ibup-test/scenario.sh"
cat >"$tree/etc/systemd/system/ibup-test.service" <<'UNIT'
[Unit]
Description=ibup vmext under systemd
After=multi-user.target
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
ExecStart=/bin/bash /ibup-test/scenario.sh

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/ibup-test.service "$tree/etc/systemd/system/multi-user.target.wants/"

# No systemd (nor machined) on the host: no registration, no scope of its own. No
# network: the container sees only its loopback, not the host's interfaces.
log "booting the container"
rc=0
timeout -k 10 150 systemd-nspawn --quiet --register=no --keep-unit --private-network \
  --boot --directory="$tree" >"$tree/ibup-test/boot" 2>&1 || rc=$?
log "the container ended (exit $rc)"
cat "$tree/ibup-test/out" 2>/dev/null || true
if [ "$(cat "$tree/ibup-test/result" 2>/dev/null)" != pass ]; then
  echo "--- the container's console (last 60 lines)"
  tail -n 60 "$tree/ibup-test/boot"
  die "failed"
fi
log "passed"
