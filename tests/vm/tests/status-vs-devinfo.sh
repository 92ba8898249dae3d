#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# `ibup status --json` against the kernel's own answers, field by field, for every
# RDMA device: `ibv_devinfo -v -d DEV` (libibverbs), `rdma -j link show` and
# `rdma -j dev show` (iproute2, netlink), and what the test itself created (each
# rxe device's netdev).  Any difference fails the test.

# A third node, so that there are more than the two default devices.
vm_net_add_node --rxe
vm_wait_rxe "${VM_RXE[2]}" 30 || vm_fail "rxe2 did not come up"

vm_test status ibup status --json && cp "$VM_OUT" status.json
assert_json_valid "ibup status --json" status.json
assert_json "schema_version" status.json .schema_version 1
vm_test rdma-link rdma -j link show && cp "$VM_OUT" link.json
vm_test rdma-dev rdma -j dev show && cp "$VM_OUT" dev.json
vm_test devinfo-list ibv_devinfo -l && cp "$VM_OUT" devlist.txt

# The device list: ibv_devinfo -l and sysfs, sorted, against ibup's (which must be sorted).
want=$(sed -n 's/^[[:space:]]*\([a-z][a-z0-9_]*\)$/\1/p' devlist.txt | LC_ALL=C sort | paste -sd' ')
sysfs=$(find /sys/class/infiniband -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | paste -sd' ')
got=$(jq -r '[.devices[].name] | join(" ")' status.json)
assert_eq "device names (ibv_devinfo -l)" "$want" "$got"
assert_eq "device names (sysfs)" "$sysfs" "$got"
assert_eq "device names (created by the test)" "$(printf '%s\n' "${VM_RXE[@]}" | LC_ALL=C sort | paste -sd' ')" "$got"
assert_json "devices sorted by name" status.json '[.devices[].name] == ([.devices[].name] | sort)' true

# ibv_devinfo -v DEV as "scope.key=value" lines: dev.fw_ver=..., p1.state=...,
# p1.gid.0=fe80::...,RoCE v2
devinfo_fields() {
  awk '{
    line = $0; sub(/^[ \t]+/, "", line)
    i = index(line, ":"); if (!i) next
    k = substr(line, 1, i - 1); v = substr(line, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", v)
    if (k == "port") { port = v; next }
    if (k ~ /^GID\[/) { gsub(/[^0-9]/, "", k); print "p" port ".gid." k "=" v; next }
    print (port == "" ? "dev" : "p" port) "." k "=" v
  }' "$1"
}

# "PORT_ACTIVE (4)" -> active, "LINK_UP (5)" -> link_up, "Ethernet" -> ethernet
lower_enum() {
  local v=${1% (*}
  v=${v#PORT_}
  printf '%s\n' "${v,,}"
}

speed_name() { # ibv active_speed code -> IB speed name (as in sysfs "rate")
  case $1 in
  1) echo SDR ;; 2) echo DDR ;; 4) echo QDR ;; 8) echo FDR10 ;; 16) echo FDR ;;
  32) echo EDR ;; 64) echo HDR ;; 128) echo NDR ;; 256) echo XDR ;; *) echo "unknown($1)" ;;
  esac
}

gid_type() { # ibv_devinfo's "RoCE v2" -> roce_v2
  case $1 in
  'RoCE v2') echo roce_v2 ;; 'RoCE v1') echo roce_v1 ;; IB) echo ib ;; *) echo "unknown($1)" ;;
  esac
}

for dev in $got; do
  vm_log "device $dev"
  vm_test "devinfo-$dev" ibv_devinfo -v -d "$dev" || continue
  declare -A IBV=()
  while IFS= read -r l; do IBV[${l%%=*}]=${l#*=}; done < <(devinfo_fields "$VM_OUT")
  d=".devices[] | select(.name == \"$dev\")"
  rdev=".[] | select(.ifname == \"$dev\")"

  assert_eq "$dev hca_id" "$dev" "${IBV[dev.hca_id]:-}"
  assert_json "$dev kind" status.json "$d.kind" soft_roce
  assert_json "$dev driver" status.json "$d.driver" rdma_rxe
  assert_json "$dev node_type (rdma dev)" status.json "$d.node_type" "$(jq -r "$rdev.node_type" dev.json)"
  # libibverbs prints a device without a firmware version (sysfs fw_ver empty, as
  # rxe's) as 0.0.0; ibup reports null then.
  want=${IBV[dev.fw_ver]:-}
  if [ "$want" = 0.0.0 ] && [ -z "$(cat "/sys/class/infiniband/$dev/fw_ver")" ]; then want=null; fi
  assert_json "$dev fw_ver (ibv_devinfo)" status.json "$d.fw_ver" "$want"
  assert_json "$dev node_guid (ibv_devinfo)" status.json "$d.node_guid" "${IBV[dev.node_guid]:-}"
  assert_json "$dev node_guid (rdma dev)" status.json "$d.node_guid" "$(jq -r "$rdev.node_guid" dev.json)"
  assert_json "$dev sys_image_guid (ibv_devinfo)" status.json "$d.sys_image_guid" "${IBV[dev.sys_image_guid]:-}"
  assert_json "$dev sys_image_guid (rdma dev)" status.json "$d.sys_image_guid" "$(jq -r "$rdev.sys_image_guid" dev.json)"
  assert_json "$dev port count" status.json "$d.ports | length" "${IBV[dev.phys_port_cnt]:-}"

  for ((p = 1; p <= ${IBV[dev.phys_port_cnt]:-0}; p++)); do
    pj="$d.ports[] | select(.port == $p)"
    rl=".[] | select(.ifname == \"$dev\" and .port == $p)"
    assert_json "$dev/$p state (ibv_devinfo)" status.json "$pj.state" "$(lower_enum "${IBV[p$p.state]:-}")"
    assert_json "$dev/$p state (rdma link)" status.json "$pj.state" "$(jq -r "$rl.state | ascii_downcase" link.json)"
    assert_json "$dev/$p phys_state (ibv_devinfo)" status.json "$pj.phys_state" "$(lower_enum "${IBV[p$p.phys_state]:-}")"
    assert_json "$dev/$p phys_state (rdma link)" status.json "$pj.phys_state" "$(jq -r "$rl.physical_state | ascii_downcase" link.json)"
    assert_json "$dev/$p link_layer" status.json "$pj.link_layer" "$(lower_enum "${IBV[p$p.link_layer]:-}")"
    assert_json "$dev/$p netdev (rdma link)" status.json "$pj.netdev" "$(jq -r "$rl.netdev" link.json)"
    created=''
    for i in "${!VM_RXE[@]}"; do [ "${VM_RXE[$i]}" != "$dev" ] || created=${VM_NETDEV[$i]}; done
    assert_json "$dev/$p netdev (created)" status.json "$pj.netdev" "$created"

    # active_width "1X (1)", active_speed "10.0 Gbps (8)": rate = lanes x lane rate.
    width=${IBV[p$p.active_width]:-}
    width=${width%% *}
    speed=${IBV[p$p.active_speed]:-}
    code=${speed##*(}
    code=${code%)}
    lane=${speed%% *}
    assert_json "$dev/$p width" status.json "$pj.width" "$width"
    assert_json "$dev/$p speed" status.json "$pj.speed" "$(speed_name "$code")"
    rate=$(awk -v w="${width%X}" -v l="$lane" 'BEGIN { print w * l }')
    assert_json "$dev/$p rate_gbps = $width x $lane Gbps" status.json \
      "($pj.rate_gbps - $rate) | (if . < 0 then -. else . end) < 0.01" true

    # LIDs exist on InfiniBand ports only; ibv_devinfo shows 0 on Ethernet ones.
    if [ "${IBV[p$p.link_layer]:-}" = Ethernet ]; then
      assert_eq "$dev/$p ibv port_lid on Ethernet" 0 "${IBV[p$p.port_lid]:-}"
      assert_json "$dev/$p lid, sm_lid, lmc on Ethernet" status.json "[$pj | .lid, .sm_lid, .lmc] | map(tostring) | join(\" \")" "null null null"
    else
      assert_json "$dev/$p lid" status.json "$pj.lid" "${IBV[p$p.port_lid]:-}"
      assert_json "$dev/$p sm_lid" status.json "$pj.sm_lid" "${IBV[p$p.sm_lid]:-}"
      assert_json "$dev/$p lmc" status.json "$pj.lmc" "$((${IBV[p$p.port_lmc]:-x}))"
    fi
    # The P_Key table (ibv_devinfo only prints its length): sysfs pkeys/0.
    assert_json "$dev/$p pkeys length" status.json "$pj.pkeys | length" "${IBV[p$p.pkey_tbl_len]:-}"
    assert_json "$dev/$p pkey 0 (sysfs)" status.json "$pj.pkeys[0]" "$(cat "/sys/class/infiniband/$dev/ports/$p/pkeys/0")"

    # Every GID with its RoCE type, in ibv_devinfo's order, and each GID's netdev.
    want_gids=''
    for k in "${!IBV[@]}"; do
      [[ $k == "p$p.gid."* ]] || continue
      gi=${k##*.}
      addr=${IBV[$k]%%,*}
      typ=${IBV[$k]#*, }
      want_gids+="$gi $(vm_ipv6_expand "$addr" || echo "unparsable($addr)") $(gid_type "$typ")"$'\n'
    done
    want_gids=$(printf '%s' "$want_gids" | sort -n | paste -sd';')
    got_gids=$(jq -r "[$pj | .gids[] | \"\\(.index) \\(.gid) \\(.type)\"] | join(\";\")" status.json)
    assert_ne "$dev/$p GIDs present" "" "$want_gids"
    assert_eq "$dev/$p GIDs (index gid type)" "$want_gids" "$got_gids"
    while read -r gi gnd; do
      assert_eq "$dev/$p gid $gi netdev (sysfs)" "$(cat "/sys/class/infiniband/$dev/ports/$p/gid_attrs/ndevs/$gi")" "$gnd"
    done < <(jq -r "$pj | .gids[] | \"\\(.index) \\(.netdev)\"" status.json)
  done
  unset IBV
done
