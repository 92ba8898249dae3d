#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# `ibup check` on a real kernel whose RDMA devices are all Soft-RoCE: there is no
# InfiniBand fabric, and check says so plainly (exit 4, 0 with --allow-none) instead of
# reporting ports down. With --expect-hcas it must fail (1) with the missing-IB fault
# code. The live memlock of the process is read and judged.
# Asserts: exit codes, the JSON verdict and checks, the NHC line, no warning on stderr,
# and that --bench (InfiniBand ports only) changes none of it.

n=${#VM_RXE[@]}

vm_test -e 4 check ibup check --vm-size Standard_D4s_v5
assert_match "statement" "^No InfiniBand fabric on this node: no InfiniBand device \\($n soft_roce\\)\\. Nothing to check\\.$" "$(cat "$VM_OUT")"
assert_eq "stderr of check" "" "$(cat "$VM_ERR")"

vm_test -e 0 allow-none ibup check --allow-none -q

vm_test -e 4 check-json ibup check --json --no-state
assert_json_valid "check --json" "$VM_OUT"
assert_json "verdict" "$VM_OUT" '.verdict' none
assert_json "fabric" "$VM_OUT" '.fabric' false
assert_json "ib_fabric check" "$VM_OUT" '[.checks[] | select(.id == "ib_fabric") | .verdict][0]' skip
assert_json "rdma_device check" "$VM_OUT" '[.checks[] | select(.id == "rdma_device") | .seen][0]' "$n RDMA devices"

# A node that should have InfiniBand but has only Soft-RoCE: a failure, for NHC too.
vm_test -e 1 expect-ib ibup check --nhc --expect-hcas 1 --no-state
assert_eq "NHC line" "check_ibup: ib_fabric no InfiniBand device ($n soft_roce), expected 1 InfiniBand HCA (this node). FaultCode: NHC2002" "$(cat "$VM_OUT")"

# The live process limits are read on a real system (unknown only under --root).
vm_test status ibup status --json
assert_json "memlock of the process is known" "$VM_OUT" '.limits.memlock_soft != null' true
assert_json "every device is soft_roce" "$VM_OUT" '[.devices[].kind] | unique | join(",")' soft_roce

# --bench measures InfiniBand ports only: with none, the plain statement, at once.
vm_test -t 30 -e 4 check-bench ibup check --bench --vm-size Standard_D4s_v5
assert_match "check --bench statement" "^No InfiniBand fabric on this node" "$(cat "$VM_OUT")"
