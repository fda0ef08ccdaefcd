#!/usr/bin/env bash
# fstab: the line of sbxfs(1) mounted by mount(8) itself, which runs
# /sbin/mount.fuse3, which runs `sbxfs SOURCE MOUNTPOINT -o ...` through
# /bin/sh with no PATH of ours.  The test runs in a private mount namespace
# where the built sbxfs is bind-mounted over /usr/local/sbin, so it never
# touches /etc/fstab or the host's mounts, and checks the effects through
# the REST API with curl.
#
# usage: fstab.sh SBXFS SBXD
set -euo pipefail
sbxfs=${1:?usage: fstab.sh SBXFS SBXD}
sbxd=${2:?usage: fstab.sh SBXFS SBXD}

skip() { echo "skipping the fstab test: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ -z "${SBXFS_OPS_NS:-}" ]; then
	[ -e /dev/fuse ] || skip "/dev/fuse does not exist"
	[ "$(id -u)" = 0 ] || skip "mount -T (a private fstab) needs root"
	command -v unshare >/dev/null || skip "no unshare(1)"
	command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ] || skip "no mount.fuse3 (package fuse3)"
	unshare -m true 2>/dev/null || skip "cannot make a private mount namespace here"
	export SBXFS_OPS_NS=1
	exec unshare -m --propagation private bash "$0" "$@"
fi

tmp=$(mktemp -d /tmp/sbxfs-fstab-XXXXXX)
sbxd_pid=
cleanup() {
	for d in a b c; do
		if mountpoint -q "$tmp/$d"; then umount "$tmp/$d" 2>/dev/null || umount -l "$tmp/$d"; fi
	done
	[ -n "$sbxd_pid" ] && kill "$sbxd_pid" 2>/dev/null && wait "$sbxd_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

key="sk_fstab_$RANDOM$RANDOM"
echo "$key" > "$tmp/key"
chmod 600 "$tmp/key"
mkdir "$tmp/a" "$tmp/b" "$tmp/c" "$tmp/sbin"
"$sbxd" --listen 127.0.0.1:0 --ready-file "$tmp/port" --api-key-file "$tmp/key" \
	--log-level warn 2>"$tmp/sbxd.err" &
sbxd_pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || fail "sbxd did not start: $(cat "$tmp/sbxd.err")"
url="http://127.0.0.1:$(cat "$tmp/port")"

rest() { # METHOD PATH [BODY]
	curl -sS -X "$1" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
		${3:+-d "$3"} "$url$2"
}
names() { # the sbxfs.name of every sandbox on the server, sorted
	rest GET '/v2/sandboxes?state=running,paused&limit=100' |
		grep -o '"sbxfs.name":"[^"]*"' | cut -d'"' -f4 | sort | tr '\n' ' '
}

# The installed-sbxfs stand-in: first in /bin/sh's default PATH.
ln -s "$(readlink -f "$sbxfs")" "$tmp/sbin/sbxfs"
mount --bind "$tmp/sbin" /usr/local/sbin
[ "$(env -i /bin/sh -c 'command -v sbxfs')" = /usr/local/sbin/sbxfs ] ||
	fail "the bind mount did not put sbxfs on /bin/sh's default PATH"

cat > "$tmp/fstab" <<FSTAB
# The documented line, plus the api_url of the test's sbxd.
sbxfs $tmp/a fuse.sbxfs defaults,_netdev,api_url=$url,api_key_file=$tmp/key 0 0
# The URL as SOURCE, generic flags mount(8) passes on, a debug log file.
$url $tmp/b fuse.sbxfs defaults,_netdev,nofail,x-systemd.requires=sbxd.service,rw,nosuid,nodev,noatime,noexec,api_key_file=$tmp/key,log=$tmp/b.log,log_level=debug 0 0
# Never mounted by mount -a.
sbxfs $tmp/c fuse.sbxfs noauto,_netdev,api_url=$url,api_key_file=$tmp/key 0 0
FSTAB

# 1. mount MOUNTPOINT, as for `mount /mnt/sbx`.
rest POST /sandboxes '{"templateID":"base","metadata":{"sbxfs.name":"seeded"}}' >/dev/null
mount -T "$tmp/fstab" "$tmp/a" || fail "mount $tmp/a failed"
# mount returned: the mount must answer right away.
[ "$(ls "$tmp/a")" = seeded ] || fail "ls after mount: '$(ls "$tmp/a")'"
findmnt -n -o SOURCE,FSTYPE "$tmp/a" | grep -qx 'sbxfs  *fuse.sbxfs' ||
	fail "findmnt: $(findmnt -n -o SOURCE,FSTYPE "$tmp/a")"
mkdir "$tmp/a/fromfstab"
[ "$(names)" = "fromfstab seeded " ] || fail "server has: $(names)"
[ "$(cat "$tmp/a/fromfstab/state")" = running ] || fail "state of fromfstab"

# 2. mount -a: mounts b, skips the mounted a and the noauto c.
mount -a -T "$tmp/fstab" || fail "mount -a failed"
mountpoint -q "$tmp/b" || fail "mount -a did not mount $tmp/b"
mountpoint -q "$tmp/c" && fail "mount -a mounted the noauto line"
findmnt -n -o SOURCE,FSTYPE,OPTIONS "$tmp/b" > "$tmp/b.mnt"
grep -q "^$url  *fuse.sbxfs  *rw,nosuid,nodev,noexec,noatime" "$tmp/b.mnt" ||
	fail "findmnt b: $(cat "$tmp/b.mnt")"
grep -qx 'backend=http://127.0.0.1:[0-9]*' "$tmp/b/.sbxfs/status" || fail "status of b"
echo paused > "$tmp/b/seeded/state"
rest GET '/v2/sandboxes?state=paused' | grep -q '"sbxfs.name":"seeded"' ||
	fail "pause through the mount of b did not reach the server"
grep -Eq 'debug: GET /v2/sandboxes[^ ]* -> 200 \([0-9]+ ms\)' "$tmp/b.log" ||
	fail "no request lines in the debug log: $(cat "$tmp/b.log")"
grep -Eq 'debug: POST /sandboxes/[a-z0-9]+/pause -> 204' "$tmp/b.log" ||
	fail "no pause line in the debug log"
grep -qF "$key" "$tmp/b.log" && fail "the key is in the log"

# 3. umount: clean exit of both daemons.
pid=$(grep -o 'sbxfs\[[0-9]*\]' "$tmp/b.log" | head -1 | tr -dc 0-9)
umount "$tmp/a" || fail "umount a"
umount "$tmp/b" || fail "umount b"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "sbxfs $pid still runs after umount"
grep -q 'info: unmounting' "$tmp/b.log" || fail "no clean unmount in the log"
mountpoint -q "$tmp/a" && fail "$tmp/a still mounted"

# 4. A wrong key fails the mount command itself, nothing mounted.
echo wrong > "$tmp/badkey"
sed "s|$tmp/key|$tmp/badkey|" "$tmp/fstab" > "$tmp/fstab.bad"
if mount -T "$tmp/fstab.bad" "$tmp/a" 2>"$tmp/mount.err"; then fail "mount with a wrong key succeeded"; fi
grep -q 'rejected the API key (401)' "$tmp/mount.err" || fail "mount error: $(cat "$tmp/mount.err")"
mountpoint -q "$tmp/a" && fail "mounted despite the wrong key"
[ -s "$tmp/sbxd.err" ] && fail "sbxd said: $(cat "$tmp/sbxd.err")"
echo "fstab: mount, mount -a, umount and a refused key all behave"
