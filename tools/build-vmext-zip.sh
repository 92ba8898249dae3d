#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the VM-extension package: a zip the Azure Linux agent unpacks into the handler
# directory. Regular files only (no symlinks: zip tools and the agent's extractall
# treat them differently); the agent itself adds the execute bits it needs.
#
#   tools/build-vmext-zip.sh IBUP_BINARY|--portable OUT.zip
#
# What ships is the portable build (tools/portable.sh: IBUP_STATIC_DEPS, glibc 2.28 at
# most), which --portable takes from build/portable/ibup; any other binary (the tests
# package their own) is packaged with a warning when it needs a newer glibc. Its
# architecture is read from its ELF header and recorded in bin/ARCH, which
# ibup-vmext.sh compares with the VM's before running it.
set -euo pipefail

usage() {
  echo "Usage: tools/build-vmext-zip.sh IBUP_BINARY|--portable OUT.zip" >&2
  exit 2
}
[ $# -eq 2 ] || usage
bin=$1 out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
src=$repo/packaging/vmext
if [ "$bin" = --portable ]; then
  bin=$repo/build/portable/ibup
  [ -f "$bin" ] || {
    echo "build-vmext-zip.sh: no $bin: run 'sudo tools/portable.sh' first" >&2
    exit 1
  }
fi
if [ ! -f "$bin" ] || [ -L "$bin" ]; then
  echo "build-vmext-zip.sh: '$bin' is not a regular file" >&2
  exit 1
fi
# The newest glibc symbol version it needs, against the portable build's 2.28.
need=$(sed -n 's/^need=//p' "$repo/packaging/portable/ibup.sh")
if command -v objdump >/dev/null; then
  newest=$(objdump -T "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -n 1)
  if [ -n "$newest" ] &&
    [ "$(printf '%s\n' "GLIBC_$need" "$newest" | sort -V | tail -n 1)" != "GLIBC_$need" ]; then
    echo "build-vmext-zip.sh: warning: '$bin' needs $newest; VMs with glibc older than" \
      "that cannot run it (the portable build, tools/portable.sh, needs $need)" >&2
  fi
fi

python3 - "$bin" "$out" "$src" <<'PY'
import os, stat, struct, sys, zipfile

binary, out, src = sys.argv[1:4]
with open(binary, "rb") as f:
    head = f.read(20)
if head[:4] != b"\x7fELF":
    sys.exit("build-vmext-zip.sh: '%s' is not an ELF program" % binary)
machine = struct.unpack("<H" if head[5] == 1 else ">H", head[18:20])[0]
arch = {0x3E: "x86_64", 0xB7: "aarch64"}.get(machine)
if arch is None:
    sys.exit("build-vmext-zip.sh: unknown ELF machine 0x%x" % machine)

files = [
    ("HandlerManifest.json", os.path.join(src, "HandlerManifest.json"), 0o644),
    ("ibup-vmext.sh", os.path.join(src, "ibup-vmext.sh"), 0o755),
    ("bin/ibup", binary, 0o755),
]
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    for name, path, mode in files:
        if os.path.islink(path) or not os.path.isfile(path):
            sys.exit("build-vmext-zip.sh: '%s' is not a regular file" % path)
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (stat.S_IFREG | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as f:
            z.writestr(info, f.read())
    info = zipfile.ZipInfo("bin/ARCH", date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    z.writestr(info, arch + "\n")
os.replace(tmp, out)
print("%s: %s" % (out, ", ".join(n for n, _, _ in files) + ", bin/ARCH (" + arch + ")"))
PY
