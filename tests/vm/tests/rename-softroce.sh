#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# `ibup rename` on real RDMA devices, through RDMA netlink: a scheme names the two
# Soft-RoCE devices by the interface they sit on; the names change, traffic still flows
# between the renamed devices, a second run does nothing, crossed names (a swap) go
# through temporary names without a failed step, and a device added later is named by
# the command the udev rule of `rename --enable` runs (`ibup rename --device %k`).
# vm-test-timeout: 240

a=${VM_NETDEV[0]} b=${VM_NETDEV[1]}
printf '# by the interface each device sits on\nnetdev:%s fab0\nnetdev:%s fab1\nonly\n' "$a" "$b" >scheme
netdev_of() { cat "/sys/class/infiniband/$1/ports/1/gid_attrs/ndevs/0" 2>/dev/null; }

vm_test plan ibup rename --dry-run --scheme scheme
assert_true "the plan renames ${VM_RXE[0]} to fab0" grep -qx "rdma dev set ${VM_RXE[0]} name fab0" "$VM_OUT"
vm_test rename ibup rename --scheme scheme
assert_eq "fab0 sits on $a" "$a" "$(netdev_of fab0)"
assert_eq "fab1 sits on $b" "$b" "$(netdev_of fab1)"
assert_true "${VM_RXE[0]} is gone" test ! -e "/sys/class/infiniband/${VM_RXE[0]}"
assert_true "no journal is left" test ! -e /var/lib/ibup/journal.json
vm_test again ibup rename --scheme scheme
assert_true "a second run does nothing" grep -q '^Nothing to do' "$VM_OUT"

# Traffic between the renamed devices (the link-local GID: two local devices).
vm_test -t 90 traffic ibup bench -t write_bw -d fab1 --to fab0 -n 200 --verify

# Crossed names: fab0 and fab1 trade places; temporary names first.
printf 'netdev:%s fab1\nnetdev:%s fab0\nonly\n' "$a" "$b" >swap
vm_test swap-plan ibup rename --dry-run --scheme swap
assert_true "the swap goes through a temporary name" grep -q '^rdma dev set fab0 name ibup_tmp' "$VM_OUT"
vm_test swap ibup rename --scheme swap
assert_eq "fab1 now sits on $a" "$a" "$(netdev_of fab1)"
assert_eq "fab0 now sits on $b" "$b" "$(netdev_of fab0)"

# A device added later: the rule's command names it, and only it.
vm_net_add_node --rxe
c=${VM_NETDEV[2]} late=${VM_RXE[2]}
vm_wait_rxe "$late" 30
printf 'netdev:%s fab1\nnetdev:%s fab0\nnetdev:%s fab2\nonly\n' "$a" "$b" "$c" >later
vm_test rule-command ibup rename --device "$late" --scheme later
assert_eq "the late device is fab2" "$c" "$(netdev_of fab2)"
assert_eq "fab1 kept its name" "$a" "$(netdev_of fab1)"

# Back to the harness's names, so that teardown and later tests find them.
printf 'netdev:%s %s\nnetdev:%s %s\nnetdev:%s %s\nonly\n' "$a" "${VM_RXE[0]}" "$b" "${VM_RXE[1]}" "$c" "$late" >back
vm_test restore ibup rename --scheme back
assert_eq "${VM_RXE[0]} is back on $a" "$a" "$(netdev_of "${VM_RXE[0]}")"
