#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup install` carried out against the real loopback HTTP server (tests/fakes/fake-http):
# a vendor file whose SHA-256 does not match is refused with both hashes and nothing
# after the download runs (nothing unpacked, no installer); --from checks the file it is
# given the same way before any step; a second run continues only with --resume.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: test-install-run.sh IBUP FAKE_HTTP SOURCE_DIR" >&2; exit 2; }
ibup=$1 fake=$2 src=$3
tmp=$(mktemp -d)
server=
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { # check WHAT COMMAND...: report a failed expectation
  local what=$1
  shift
  if ! "$@"; then
    echo "FAIL: $what" >&2
    fail=1
  fi
}

# shellcheck disable=SC2317 # called through check
not_grep() { ! grep -q "$@"; }

tree=$tmp/image
cp -a "$src/tests/fixtures/nd-h100-v5" "$tree"
rm -rf "$tree/expected"
cp "$src/tests/cli/install/os-release/ubuntu2204" "$tree/etc/os-release"
mkdir -p "$tree/usr/bin"
: >"$tree/usr/bin/apt-get"

"$fake" >"$tmp/port" &
server=$!
for _ in $(seq 100); do
  [ -s "$tmp/port" ] && break
  sleep 0.1
done
port=$(head -n1 "$tmp/port")
[ -n "$port" ] || { echo "FAIL: fake-http did not start" >&2; exit 1; }

# The file fake-http serves, and its real SHA-256.
python3 - "$tmp/served" <<'PY'
import sys
n = 1024 * 1024 + 123
data = bytes((((i + 1) * 0x9E3779B97F4A7C15) % (1 << 64)) >> 56 for i in range(n))
open(sys.argv[1], "wb").write(data)
PY
good=$(sha256sum "$tmp/served" | cut -d' ' -f1)
wrong=$(printf '%064d' 0)
url="http://127.0.0.1:$port/file"

# 1. A wrong hash: the download step fails (exit 3), naming both hashes; no later step ran.
rc=0
"$ibup" --root "$tree" install --stack mofed --url "$url" --sha256 "$wrong" \
  >"$tmp/out" 2>"$tmp/err" || rc=$?
check "wrong hash: exit 3 (got $rc)" test "$rc" = 3
check "wrong hash: both hashes said" grep -q "expected $wrong, got $good" "$tmp/err"
check "wrong hash: --resume offered" grep -q -- "--resume" "$tmp/err"
check "wrong hash: no file kept" test ! -e "$tree/var/lib/ibup/install/file"
check "wrong hash: nothing unpacked" test -z "$(ls -A "$tree/var/lib/ibup/install" 2>/dev/null)"
check "wrong hash: no step after the download" not_grep '^ran: ' "$tmp/out"
check "wrong hash: no ibup file written" test ! -e "$tree/etc/security/limits.d/90-ibup-memlock.conf"

# 2. Another run is refused while the first one is journaled, unless it resumes.
rc=0
"$ibup" --root "$tree" install --stack mofed --url "$url" --sha256 "$wrong" \
  >"$tmp/out" 2>"$tmp/err" || rc=$?
check "journaled: refused without --resume (got $rc)" test "$rc" = 3
rc=0
"$ibup" --root "$tree" install --stack mofed --url "$url" --sha256 "$wrong" --resume \
  >"$tmp/out" 2>"$tmp/err" || rc=$?
check "resumed: the download fails again (got $rc)" test "$rc" = 3
check "resumed: the same refusal" grep -q "expected $wrong, got $good" "$tmp/err"
rm -rf "$tree/var/lib/ibup"

# The right hash: downloaded, kept in --cache by its hash, then unpacked (the served
# file is no tarball: tar fails, and so does the run, at that step).
rc=0
"$ibup" --root "$tree" install --stack mofed --url "$url?right" --sha256 "$good" \
  --cache /var/cache/ibup-test >"$tmp/out" 2>"$tmp/err" || rc=$?
check "right hash: the unpack fails (got $rc)" test "$rc" = 3
check "right hash: downloaded" cmp -s "$tmp/served" "$tree/var/lib/ibup/install/file"
check "right hash: kept in --cache" cmp -s "$tmp/served" "$tree/var/cache/ibup-test/$good"
check "right hash: tar ran and failed" grep -q "step 2 of .* failed: 'tar' exited" "$tmp/err"
rm -rf "$tree/var/lib/ibup" "$tree/var/cache/ibup-test"

# 3. --from: the file given is hashed before anything is planned.
rc=0
"$ibup" --root "$tree" install --stack mofed --from "$tmp/served" --sha256 "$wrong" \
  --dry-run >"$tmp/out" 2>"$tmp/err" || rc=$?
check "--from wrong hash: exit 3 (got $rc)" test "$rc" = 3
check "--from wrong hash: both hashes" grep -q "its SHA-256 is $good, expected $wrong" "$tmp/err"
check "--from wrong hash: no plan printed" test ! -s "$tmp/out"
rc=0
"$ibup" --root "$tree" install --stack mofed --from "$tmp/served" --sha256 "$good" \
  --dry-run >"$tmp/out" 2>"$tmp/err" || rc=$?
check "--from right hash: planned (got $rc)" test "$rc" = 0
check "--from right hash: copied into the tree" \
  grep -q "^install -D -m 0644 $tmp/served $tree/var/lib/ibup/install/" "$tmp/out"

# A distribution the manifest has no row for: --from with --sha256 is enough.
cp "$src/tests/cli/install/os-release/sles15sp6" "$tree/etc/os-release.sles"
mv "$tree/etc/os-release" "$tree/etc/os-release.ubuntu"
mv "$tree/etc/os-release.sles" "$tree/etc/os-release"
rc=0
"$ibup" --root "$tree" install --stack doca --from "$tmp/served" --sha256 "$good" \
  --dry-run >"$tmp/out" 2>"$tmp/err" || rc=$?
check "--from without a row: planned (got $rc)" test "$rc" = 0
check "--from without a row: installed with zypper" \
  grep -q "^zypper --non-interactive --root $tree install --no-recommends --allow-unsigned-rpm $tree/var/lib/ibup/install/served$" "$tmp/out"
mv "$tree/etc/os-release.ubuntu" "$tree/etc/os-release"

# 4. A row without a hash needs --sha256: usage (2), and nothing is fetched.
rc=0
"$ibup" --root "$tree" install --stack mofed >"$tmp/out" 2>"$tmp/err" || rc=$?
check "no hash: exit 2 (got $rc)" test "$rc" = 2
check "no hash: said" grep -q -- "--sha256 is required" "$tmp/err"
check "no hash: nothing journaled" test ! -e "$tree/var/lib/ibup/install"

[ "$fail" = 0 ] && echo "install run checks passed"
exit "$fail"
