#!/usr/bin/env bash
# writers.sh - the writer's side of the hostile tier: every file `ibup ipoib enable` and
# `disable` write (the unit, the udev rule, the network-manager exclusions, waagent.conf,
# the plan journal), `rename --enable`'s udev rule, `metrics --textfile`'s file and
# `sweep --analyze`'s reports, met with symlinked parents that lead out of the root, read-only
# directories, a NUL byte, a directory or FIFO where the file should be, and a write
# interrupted by a file-size limit.
#
# usage: tests/hostile/writers.sh IBUP
#
# Each case must: exit 3 (or 0 where the case is harmless) with one line naming what
# failed, change nothing outside the root, leave every file it did not finish either as
# it was or whole (never half-written, never a short backup), and let a later run
# without the obstacle finish. Prints PASS/FAIL/SKIP per case; exits 1 if any failed.
set -uo pipefail

IBUP=${1:?usage: writers.sh IBUP}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
FIXTURE="$HERE/../fixtures/hbv3"
UNIT=etc/systemd/system/ibup-ipoib.service
RULE=etc/udev/rules.d/90-ibup-ipoib.rules
failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

new_root() {
  root=$work/$1/root
  out=$work/$1/outside
  mkdir -p "$root" "$out"
  cp -a "$FIXTURE/." "$root/"
  rm -rf "$root/expected"
  mkdir -p "$root/lib/systemd/system"
  touch "$root/lib/systemd/system/walinuxagent.service"
  cp "$root/etc/waagent.conf" "$work/$1/waagent.orig"
}
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
ib() { "$IBUP" --root "$root" ipoib "$@"; }
nothing_outside() { [ -z "$(find "$out" -mindepth 1 -print -quit)" ]; }

# 1, 2. A parent that is a symlink out of the root, absolute or relative: resolved
# inside the root (as a chroot would); nothing is made outside it.
for kind in absolute relative; do
  c=symlinked-parent-$kind
  new_root "$c"
  rm -rf "$root/etc/udev"
  if [ "$kind" = absolute ]; then ln -s "$out" "$root/etc/udev"; else ln -s "../../../outside" "$root/etc/udev"; fi
  rc=0; ib enable >"$work/$c/o" 2>"$work/$c/e" || rc=$?
  if ! nothing_outside; then fail "$c" "wrote outside the root: $(find "$out" -mindepth 1)"
  elif [ "$rc" != 0 ] && [ "$rc" != 3 ]; then fail "$c" "exit $rc"
  elif [ "$rc" = 3 ] && ! grep -q '^ibup: step 2 of .* failed: ' "$work/$c/e"; then fail "$c" "the failed step is not named: $(cat "$work/$c/e")"
  else pass "$c"; fi
done

# 3. A NUL byte in waagent.conf: refused whole, the file untouched, no backup.
c=nul-waagent
new_root "$c"
printf '# x\nOS.EnableRDMA=n\0garbage\nProvisioning.Enabled=y\n' >"$root/etc/waagent.conf"
sum=$(sha256sum <"$root/etc/waagent.conf")
rc=0; ib enable --via waagent >/dev/null 2>"$work/$c/e" || rc=$?
if [ "$rc" != 3 ] || ! grep -q 'NUL' "$work/$c/e"; then fail "$c" "not refused (exit $rc): $(cat "$work/$c/e")"
elif [ "$(sha256sum <"$root/etc/waagent.conf")" != "$sum" ] || [ -e "$root/etc/waagent.conf.ibup-orig" ]; then
  fail "$c" "the file was changed or backed up"
else pass "$c"; fi

# 4. The file's place is a directory or a FIFO: refused, named, nothing replaced.
for kind in dir fifo; do
  c=not-a-file-$kind
  new_root "$c"
  mkdir -p "$root/etc/udev/rules.d"
  if [ "$kind" = dir ]; then mkdir "$root/$RULE"; else mkfifo "$root/$RULE"; fi
  rc=0; timeout 20 "$IBUP" --root "$root" ipoib enable >/dev/null 2>"$work/$c/e" || rc=$?
  if [ "$rc" != 3 ]; then fail "$c" "exit $rc: $(cat "$work/$c/e")"
  elif [ "$kind" = dir ] && [ ! -d "$root/$RULE" ]; then fail "$c" "the directory was replaced"
  elif [ "$kind" = fifo ] && [ ! -p "$root/$RULE" ]; then fail "$c" "the FIFO was replaced"
  else pass "$c"; fi
done

# 5. A write cut short by a file-size limit (EFBIG when SIGXFSZ is ignored, else the
# signal): at the journal (limit 0) and at waagent.conf's backup (a 16 KiB file, limit
# 4 KiB). The file is as it was, no half-written file or short backup is left to be
# restored later, nothing blocks the next run, which finishes.
for limit in 0 4; do
  for sig in ignored default; do
    c=interrupted-write-$limit-$sig
    new_root "$c"
    for i in $(seq 300); do echo "# padding line $i of an admin's long comment block"; done >>"$root/etc/waagent.conf"
    cp "$root/etc/waagent.conf" "$work/$c/waagent.orig"
    rc=0
    if [ "$sig" = ignored ]; then
      (trap '' XFSZ; ulimit -f "$limit"; exec "$IBUP" --root "$root" ipoib enable --via waagent) >/dev/null 2>"$work/$c/e" || rc=$?
    else
      (ulimit -f "$limit"; exec "$IBUP" --root "$root" ipoib enable --via waagent) >/dev/null 2>"$work/$c/e" || rc=$?
    fi
    resume=
    [ -e "$root/var/lib/ibup/journal.json" ] && resume=--resume
    if [ "$rc" = 0 ]; then fail "$c" "an interrupted write reported success"; continue; fi
    if ! cmp -s "$root/etc/waagent.conf" "$work/$c/waagent.orig"; then fail "$c" "waagent.conf changed"; continue; fi
    if [ -e "$root/etc/waagent.conf.ibup-orig" ] && ! cmp -s "$root/etc/waagent.conf.ibup-orig" "$work/$c/waagent.orig"; then
      fail "$c" "a short backup was left"; continue
    fi
    rc=0; ib enable --via waagent $resume >/dev/null 2>"$work/$c/e2" || rc=$?
    if [ "$rc" != 0 ]; then fail "$c" "the next run failed ($rc): $(cat "$work/$c/e2")"; continue; fi
    if ! grep -qx 'OS.EnableRDMA=y' "$root/etc/waagent.conf" || ! cmp -s "$root/etc/waagent.conf.ibup-orig" "$work/$c/waagent.orig"; then
      fail "$c" "the next run did not finish the change with a whole backup"; continue
    fi
    pass "$c"
  done
done

# 6. A read-only directory, as an unprivileged user would meet it: refused and named;
# what was done is journaled, and the rest is done once the directory is writable.
c=read-only-dir
if ! command -v setpriv >/dev/null; then
  echo "SKIP $c: setpriv (util-linux) is needed"
else
  new_root "$c"
  chmod 0755 "$work" "$work/$c"
  mkdir -p "$root/etc/systemd/system"
  chown -R 65534:65534 "$root"
  chmod 0555 "$root/etc/systemd/system"
  rc=0
  setpriv --reuid 65534 --regid 65534 --clear-groups "$IBUP" --root "$root" ipoib enable >/dev/null 2>"$work/$c/e" || rc=$?
  if [ "$rc" != 3 ] || ! grep -q "$UNIT" "$work/$c/e"; then fail "$c" "exit $rc: $(cat "$work/$c/e")"
  elif [ -e "$root/$UNIT" ]; then fail "$c" "the unit was written"
  else
    chmod 0755 "$root/etc/systemd/system"
    rc=0
    setpriv --reuid 65534 --regid 65534 --clear-groups "$IBUP" --root "$root" ipoib enable --resume >/dev/null 2>"$work/$c/e2" || rc=$?
    # systemctl --root may refuse an unprivileged user; the files are what matters here.
    if [ ! -f "$root/$UNIT" ] || [ ! -f "$root/$RULE" ]; then fail "$c" "--resume did not write the files ($rc): $(cat "$work/$c/e2")"
    else pass "$c"; fi
  fi
fi

# 7. `rename --enable` with etc/udev a symlink out of the root, absolute or relative:
# its rule is written inside the root or the run fails naming the step; nothing outside.
for kind in absolute relative; do
  c=rename-rule-symlinked-$kind
  new_root "$c"
  rm -rf "$root/etc/udev"
  if [ "$kind" = absolute ]; then ln -s "$out" "$root/etc/udev"; else ln -s "../../../outside" "$root/etc/udev"; fi
  rc=0; "$IBUP" --root "$root" rename --enable >"$work/$c/o" 2>"$work/$c/e" || rc=$?
  if ! nothing_outside; then fail "$c" "wrote outside the root: $(find "$out" -mindepth 1)"
  elif [ "$rc" != 0 ] && [ "$rc" != 3 ]; then fail "$c" "exit $rc: $(cat "$work/$c/e")"
  elif [ "$rc" = 3 ] && ! grep -q '^ibup: step 1 of 1 (write_file /etc/udev/rules.d/60-ibup-rename.rules) failed: ' "$work/$c/e"; then
    fail "$c" "the failed step is not named: $(cat "$work/$c/e")"
  else pass "$c"; fi
done

# 8. `metrics --textfile DIR` where ibup.prom is a directory, where DIR is read-only
# (an unprivileged user), and cut short by a file-size limit: exit 3 with one line, the
# old file whole, no temporary file left for node_exporter to read.
textfile() { "$IBUP" --root "$root" metrics --textfile "$dir" >/dev/null 2>"$work/$c/e"; }
c=metrics-textfile-is-dir
new_root "$c"
dir=$work/$c/textfile
mkdir -p "$dir/ibup.prom"
rc=0; textfile || rc=$?
if [ "$rc" != 3 ] || [ "$(wc -l <"$work/$c/e")" != 1 ]; then fail "$c" "exit $rc: $(cat "$work/$c/e")"
elif [ ! -d "$dir/ibup.prom" ] || [ "$(find "$dir" -mindepth 1 -maxdepth 1 | wc -l)" != 1 ]; then fail "$c" "replaced or left files: $(ls -A "$dir")"
else pass "$c"; fi

c=metrics-textfile-interrupted
new_root "$c"
dir=$work/$c/textfile
mkdir -p "$dir"
# The limit (1 KiB) cuts the 20 KiB file short and leaves room for the error line.
# What an earlier run left; the one writer leaves a file alone that already holds the
# new bytes, so these differ from what this run writes.
printf '# an earlier scrape\n' >"$dir/ibup.prom"
cp "$dir/ibup.prom" "$work/$c/prom.orig"
rc=0; (trap '' XFSZ; ulimit -f 1; exec "$IBUP" --root "$root" metrics --textfile "$dir") >/dev/null 2>"$work/$c/e" || rc=$?
if [ "$rc" != 3 ] || [ "$(wc -l <"$work/$c/e")" != 1 ]; then fail "$c" "exit $rc: $(cat "$work/$c/e")"
elif ! cmp -s "$dir/ibup.prom" "$work/$c/prom.orig"; then fail "$c" "ibup.prom was changed by a cut-short write"
elif [ "$(find "$dir" -mindepth 1 | wc -l)" != 1 ]; then fail "$c" "left files: $(ls -A "$dir")"
else pass "$c"; fi

c=metrics-textfile-read-only
if ! command -v setpriv >/dev/null; then
  echo "SKIP $c: setpriv (util-linux) is needed"
else
  new_root "$c"
  dir=$work/$c/textfile
  mkdir -p "$dir"
  chmod 0755 "$work" "$work/$c"
  chmod -R a+rX "$root"
  chmod 0555 "$dir"
  rc=0
  setpriv --reuid 65534 --regid 65534 --clear-groups "$IBUP" --root "$root" metrics --textfile "$dir" >/dev/null 2>"$work/$c/e" || rc=$?
  if [ "$rc" != 3 ] || [ "$(wc -l <"$work/$c/e")" != 1 ] || ! grep -q "$dir" "$work/$c/e"; then fail "$c" "exit $rc: $(cat "$work/$c/e")"
  elif [ -n "$(ls -A "$dir")" ]; then fail "$c" "left files: $(ls -A "$dir")"
  else pass "$c"; fi
fi

# 9. `ibup sweep --analyze`'s reports at a path the user gives: a directory in the
# CSV's place, and a heat map cut short by a file-size limit. Exit 3 with one line
# naming the file, nothing replaced, an earlier report whole, no temporary file left.
run=$HERE/../cli/sweep/hb120-8.json
c=sweep-csv-is-dir
mkdir -p "$work/$c/reports/bw.csv"
rc=0; "$IBUP" sweep --analyze "$run" --csv "$work/$c/reports/bw.csv" >/dev/null 2>"$work/$c/e" || rc=$?
if [ "$rc" != 3 ] || [ "$(wc -l <"$work/$c/e")" != 1 ] || ! grep -q "bw.csv" "$work/$c/e"; then fail "$c" "exit $rc: $(cat "$work/$c/e")"
elif [ ! -d "$work/$c/reports/bw.csv" ] || [ "$(find "$work/$c/reports" -mindepth 1 | wc -l)" != 1 ]; then fail "$c" "replaced or left files: $(ls -A "$work/$c/reports")"
else pass "$c"; fi

c=sweep-svg-interrupted
mkdir -p "$work/$c/reports"
printf '<svg>an earlier heat map</svg>\n' >"$work/$c/reports/map.svg"
cp "$work/$c/reports/map.svg" "$work/$c/map.orig"
# The eight-node heat map is about 9 KiB: a 4 KiB limit cuts it short.
rc=0; (trap '' XFSZ; ulimit -f 4; exec "$IBUP" sweep --analyze "$run" --svg "$work/$c/reports/map.svg") >/dev/null 2>"$work/$c/e" || rc=$?
if [ "$rc" != 3 ] || [ "$(wc -l <"$work/$c/e")" != 1 ]; then fail "$c" "exit $rc: $(cat "$work/$c/e")"
elif ! cmp -s "$work/$c/reports/map.svg" "$work/$c/map.orig"; then fail "$c" "map.svg was changed by a cut-short write"
elif [ "$(find "$work/$c/reports" -mindepth 1 | wc -l)" != 1 ]; then fail "$c" "left files: $(ls -A "$work/$c/reports")"
else pass "$c"; fi

exit "$failed"
