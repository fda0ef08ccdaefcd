#!/usr/bin/env bash
# The man pages and the systemd units: the pages format without a single
# groff warning (-ww: all of them, -wall leaves some out), pass mandoc's
# lint where installed, and render with man -l;
# the units as configured for installation pass systemd-analyze verify
# (their programs pointed at the build); meson install into a DESTDIR puts
# every file where docs/operations.md says.  Tools that are not installed
# are reported and skipped; if none is, the test skips.
#
# usage: docs.sh SRCDIR BUILDDIR SBXFS SBXD
set -uo pipefail
src=${1:?usage: docs.sh SRCDIR BUILDDIR SBXFS SBXD}
build=${2:?}
sbxfs=$(readlink -f "${3:?}")
sbxd=$(readlink -f "${4:?}")
ran=0 failed=0
tmp=$(mktemp -d /tmp/sbxfs-docs-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

check() { # NAME OUTPUT-FILE STATUS: fails on a status or any output
	if [ "$3" != 0 ] || [ -s "$2" ]; then
		echo "FAIL: $1 (status $3):"
		cat "$2"
		failed=1
	else
		echo "ok: $1"
	fi
	ran=1
}

for page in "$src/docs/sbxfs.1" "$src/docs/sbxd.8"; do
	if command -v groff >/dev/null; then
		groff -t -z -ww -man "$page" >"$tmp/out" 2>&1
		check "groff -t -z -ww $(basename "$page")" "$tmp/out" $?
	fi
	if command -v mandoc >/dev/null; then
		mandoc -T lint -W warning "$page" >"$tmp/out" 2>&1
		check "mandoc -T lint $(basename "$page")" "$tmp/out" $?
	fi
	if command -v man >/dev/null && command -v groff >/dev/null; then
		MANWIDTH=80 man -l "$page" >"$tmp/page" 2>"$tmp/out"
		st=$?
		grep -q '^NAME' "$tmp/page" || echo "no NAME section rendered" >>"$tmp/out"
		check "man -l $(basename "$page")" "$tmp/out" $st
	fi
done

if command -v systemd-analyze >/dev/null; then
	mkdir "$tmp/units"
	installed_sbxd=$(sed -n 's|^ExecStart=\([^ ]*\).*|\1|p' "$build/docs/sbxd.service")
	installed_sbxfs=$(sed -n 's|^ExecStart=\([^ ]*\).*|\1|p' "$build/docs/sbxfs@.service")
	sed "s|$installed_sbxd|$sbxd|" "$build/docs/sbxd.service" >"$tmp/units/sbxd.service"
	sed "s|$installed_sbxfs|$sbxfs|" "$build/docs/sbxfs@.service" \
		>"$tmp/units/sbxfs@mnt-sbx.service"
	cp "$src/docs/systemd/mnt-sbx.mount" "$tmp/units/"
	for u in sbxd.service sbxfs@mnt-sbx.service mnt-sbx.mount; do
		(cd "$tmp/units" && systemd-analyze verify --man=no "./$u") >"$tmp/out" 2>&1
		check "systemd-analyze verify $u" "$tmp/out" $?
	done
	# The installed units name the installed programs.
	case $installed_sbxd in */sbin/sbxd) ;; *) echo "FAIL: sbxd.service runs $installed_sbxd"; failed=1 ;; esac
	case $installed_sbxfs in */bin/sbxfs) ;; *) echo "FAIL: sbxfs@.service runs $installed_sbxfs"; failed=1 ;; esac
fi

# meson install puts everything where operations.md says.
if command -v meson >/dev/null; then
	meson install -C "$build" --no-rebuild --destdir "$tmp/dest" >"$tmp/install.log" 2>&1
	st=$?
	prefix=$(sed -n 's|^ExecStart=\(.*\)/sbin/sbxd .*|\1|p' "$build/docs/sbxd.service")
	: >"$tmp/out"
	[ $st = 0 ] || cat "$tmp/install.log" >"$tmp/out"
	for f in bin/sbxfs sbin/sbxd share/man/man1/sbxfs.1 share/man/man8/sbxd.8 \
		lib/systemd/system/sbxd.service lib/systemd/system/sbxfs@.service \
		share/doc/sbxfs/operations.md share/doc/sbxfs/recipes.md share/doc/sbxfs/performance.md \
		share/doc/sbxfs/examples/fstab share/doc/sbxfs/examples/mnt-sbx.mount; do
		[ -e "$tmp/dest$prefix/$f" ] || echo "not installed: $prefix/$f" >>"$tmp/out"
	done
	[ -x "$tmp/dest$prefix/bin/sbxfs" ] && ! "$tmp/dest$prefix/bin/sbxfs" --version >/dev/null &&
		echo "the installed sbxfs does not run" >>"$tmp/out"
	check "meson install layout under $prefix" "$tmp/out" $st
fi

if [ $ran = 0 ]; then
	echo "skipping: none of groff, mandoc, man, systemd-analyze is installed"
	exit 77
fi
exit $failed
