#!/bin/sh
# SPDX-License-Identifier: MIT
# The Azure Linux agent runs this for each handler command (HandlerManifest.json):
# it checks that this host can run the shipped ibup (its architecture), and then
# hands over to 'ibup vmext COMMAND' in the handler directory. When it cannot, it
# writes the error status the agent reads itself, so the failure is never silent.
set -u

# What goes into the JSON this script writes by hand: letters, digits, '_', '.', '-'.
clean() { printf '%s' "$1" | tr -cd '[:alnum:]_.-'; }

op=$(clean "${1:-}")
here=$(cd "$(dirname "$0")" && pwd) || exit 1
cd "$here" || exit 1

# The architecture the binary was built for, recorded by tools/build-vmext-zip.sh.
want=$(clean "$(cat "$here/bin/ARCH" 2>/dev/null || echo x86_64)")
have=$(clean "$(uname -m)")

# The status file the agent reads: status/<n>.status, n from ConfigSequenceNumber or
# the newest config/<n>.settings (as ibup does). No JSON tool is assumed on the host.
write_error() {
  code=$1 msg=$2
  seq=${ConfigSequenceNumber:-}
  case $seq in
  '' | *[!0-9]*)
    seq=0
    # The agent names them itself (<n>.settings): nothing ls could mangle.
    # shellcheck disable=SC2012
    newest=$(ls -t "$here"/config/*.settings 2>/dev/null | head -n 1)
    if [ -n "$newest" ]; then
      n=$(basename "$newest" .settings)
      case $n in '' | *[!0-9]*) ;; *) seq=$n ;; esac
    fi
    ;;
  esac
  mkdir -p "$here/status" || return 1
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  operation=$(printf '%s' "$op" | awk '{ print toupper(substr($0, 1, 1)) substr($0, 2) }')
  tmp="$here/status/$seq.status.tmp"
  printf '[{"version": 1.0, "timestampUTC": "%s", "status": {"name": "InfiniBand", "operation": "%s", "status": "error", "code": %s, "formattedMessage": {"lang": "en-US", "message": "%s"}, "substatus": []}}]\n' \
    "$now" "$operation" "$code" "$msg" >"$tmp" && mv -f "$tmp" "$here/status/$seq.status"
  echo "ibup-vmext.sh: $msg" >&2
}

case $op in
install | enable | disable | uninstall | update) ;;
*)
  write_error 1 "unknown operation '$op': install, enable, disable, uninstall or update"
  exit 1
  ;;
esac

if [ "$have" != "$want" ]; then
  write_error 12 "this extension ships ibup for $want; this VM is $have"
  exit 12
fi
if [ ! -x "$here/bin/ibup" ]; then
  write_error 14 "the extension package has no bin/ibup"
  exit 14
fi
# Options after the command (a manifest's "ibup-vmext.sh enable --wait 60") go along.
shift
exec "$here/bin/ibup" vmext "$op" --handler-dir "$here" "$@"
