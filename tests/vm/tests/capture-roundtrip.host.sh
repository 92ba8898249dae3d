#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host side of capture-roundtrip (run by run-guest.sh after the guest, when the guest
# test passed): the fixture captured in the guest, read by the host's ibup (the same
# binary), must give the devices array the guest's live `ibup status --json` gave,
# and the same os/kernel/hypervisor platform fields.
# Usage: capture-roundtrip.host.sh ARTIFACT_DIR IBUP
set -uo pipefail

art=${1:?artifact directory} ibup=${2:?ibup binary}
fixture=$art/fixture/fixture
live=$art/live/live.json
fails=0
fail() {
  echo "FAIL $*"
  fails=$((fails + 1))
  last="$*"
}

[ -d "$fixture/sys" ] || { echo "FAIL no fixture came from the guest ($fixture)"; exit 1; }
[ -s "$live" ] || { echo "FAIL no live status came from the guest ($live)"; exit 1; }

if ! "$ibup" status --json --root "$fixture" >"$art/host.json" 2>"$art/host.err"; then
  echo "FAIL host ibup status --json --root FIXTURE failed: $(head -c 300 "$art/host.err")"
  exit 1
fi
if [ "$(jq -cS .devices "$live")" = "$(jq -cS .devices "$art/host.json")" ]; then
  echo "ok   devices array: host reading the guest's capture = guest live ($(jq '.devices | length' "$live") devices)"
else
  diff <(jq -S .devices "$live") <(jq -S .devices "$art/host.json") | head -n 40
  fail "devices array: host reading the capture differs from the guest's live status"
fi
for f in os_id os_version os_name kernel hypervisor; do
  a=$(jq -c ".platform.$f" "$live") b=$(jq -c ".platform.$f" "$art/host.json")
  if [ "$a" = "$b" ]; then
    echo "ok   platform.$f = $a"
  else
    fail "platform.$f: guest live $a, host from capture $b"
  fi
done
[ "$fails" = 0 ] || { echo "$last"; exit 1; }
