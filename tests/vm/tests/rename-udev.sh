#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# `ibup rename --enable` for real: with udevd running, the rule it installs names a
# device the kernel adds (`rdma link add`) without anyone calling ibup; `--disable`
# removes the rule, after which a new device keeps the kernel's name.
# vm-test-timeout: 150

udevd=''
for u in /usr/lib/systemd/systemd-udevd /lib/systemd/systemd-udevd; do
  [ -x "$u" ] && udevd=$u && break
done
[ -n "$udevd" ] || vm_skip "no systemd-udevd in the guest"
mkdir -p /run/udev
"$udevd" --daemon --resolve-names=never 2>udevd.err
for _ in $(seq 1 50); do [ -S /run/udev/control ] && break; sleep 0.1; done
assert_true "udevd is listening" test -S /run/udev/control

vm_net_add_node --no-rxe
late=${VM_NETDEV[2]}
printf 'netdev:%s fab_late\nonly\n' "$late" >/etc/ibup-rename.scheme
vm_test enable ibup rename --enable --scheme /etc/ibup-rename.scheme
assert_true "the rule is installed" grep -q 'RUN+=".* rename --device %k --scheme /etc/ibup-rename.scheme"' \
  /etc/udev/rules.d/60-ibup-rename.rules

# The kernel adds a device; udev's rule names it.
vm_test add rdma link add rxe_new type rxe netdev "$late"
named=0
for _ in $(seq 1 100); do
  [ -e /sys/class/infiniband/fab_late ] && { named=1; break; }
  sleep 0.1
done
assert_eq "udev's rule renamed the new device to fab_late" 1 "$named"
assert_true "rxe_new is gone" test ! -e /sys/class/infiniband/rxe_new
vm_test del rdma link del fab_late

# Disabled: the next device keeps its name.
vm_test disable ibup rename --disable
assert_true "the rule is removed" test ! -e /etc/udev/rules.d/60-ibup-rename.rules
vm_test add-again rdma link add rxe_new type rxe netdev "$late"
sleep 2
assert_true "without the rule the name stays" test -e /sys/class/infiniband/rxe_new
udevadm control --exit 2>/dev/null || pkill -f systemd-udevd
