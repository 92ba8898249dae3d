#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# vm-test-timeout: 900
# tools/capture-fixture.sh on a live Soft-RoCE system, then ibup reading the capture:
# `ibup status --json --root CAPTURE` must describe the same devices as the live
# `ibup status --json` (the devices array exactly) and the same platform as far as the
# capture's allow-list reaches (os-release, kernel release, the hypervisor from
# /proc/cpuinfo and DMI; cloud and vm_size come from outside it and are only shown).
# The capture and the live JSON are also sent to the host, where
# capture-roundtrip.host.sh reads the capture with the host's ibup (the same binary).
#
# Time: capture-fixture.sh starts one process per sysfs file and an rxe port has 1024
# GID entries (gids, gid_attrs/types, gid_attrs/ndevs: ~3100 files); under TCG that is
# about 3.5 minutes per device, so this test captures one device (rxe0 on a0; rxe1 is
# removed first).  Set VM_CAPTURE_ALL=1 in /etc/ibup-vm.conf to keep both.

capture=/usr/bin/capture-fixture.sh
[ -x "$capture" ] || vm_skip "no $capture in the guest (tools/capture-fixture.sh not in the repository)"

keep=("${VM_RXE[@]}")
if [ "${VM_CAPTURE_ALL:-0}" != 1 ]; then
  vm_test drop-rxe1 rdma link del "${VM_RXE[1]}"
  keep=("${VM_RXE[0]}")
fi

vm_test live-before ibup status --json && cp "$VM_OUT" live-before.json
vm_test -t 800 capture "$capture" -o "$VM_WORK/fixture"
vm_log "capture: $(find fixture -type f | wc -l) files, $(find fixture -type l | wc -l) symlinks, $(du -sk fixture | cut -f1) KiB"
vm_test live ibup status --json && cp "$VM_OUT" live.json
vm_test replay ibup status --json --root "$VM_WORK/fixture" && cp "$VM_OUT" replay.json
assert_json_valid "live status" live.json
assert_json_valid "replayed status" replay.json

# Nothing changed on the system while it was captured, and it is what we set up.
assert_same_json "live devices before and after the capture" .devices live-before.json live.json
assert_json "devices in the live status" live.json '[.devices[].name] | join(" ")' "${keep[*]}"

# The devices array, exactly.
assert_same_json "devices array (live vs --root capture)" .devices live.json replay.json

# The platform: fields the capture's allow-list covers must be equal.
assert_same_json "schema_version" .schema_version live.json replay.json
for f in os_id os_version os_name kernel hypervisor; do
  assert_same_json "platform.$f" ".platform.$f" live.json replay.json
done
for f in cloud vm_size; do
  vm_log "platform.$f: live $(jq -c ".platform.$f" live.json), capture $(jq -c ".platform.$f" replay.json) (outside the allow-list)"
done

# To the host (capture-roundtrip.host.sh).
assert_true "fixture sent to the host" vm_export fixture "$VM_WORK/fixture"
assert_true "live status sent to the host" vm_export live "$VM_WORK/live.json"
