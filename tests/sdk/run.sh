#!/bin/bash
# Runs sdk-test.mjs against a fresh sbxd on a free loopback port.
# Usage: run.sh PATH/TO/sbxd
# Exits 77 (skipped) when the SDKs are not installed; install them with
#   npm ci --prefix tests/sdk
set -u
here=$(cd "$(dirname "$0")" && pwd)
sbxd=${1:?usage: run.sh PATH/TO/sbxd}

if [ ! -d "$here/node_modules/e2b" ] || [ ! -d "$here/node_modules/novita-sandbox" ] ||
   [ ! -d "$here/node_modules/@e2b/cli" ]; then
	echo "SKIP: SDKs not installed (npm ci --prefix tests/sdk)"
	exit 77
fi
if ! command -v node >/dev/null; then
	echo "SKIP: node not found"
	exit 77
fi

work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

key=sdk-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$key" > "$work/key"
"$sbxd" --listen 127.0.0.1:0 --ready-file "$work/port" --api-key-file "$work/key" \
	--log-level warn 2> "$work/stderr" &
pid=$!
for _ in $(seq 100); do
	[ -s "$work/port" ] && break
	sleep 0.05
done
if [ ! -s "$work/port" ]; then
	echo "sbxd did not start:"
	cat "$work/stderr"
	exit 1
fi
url=http://127.0.0.1:$(cat "$work/port")

E2B_API_URL=$url E2B_API_KEY=$key NOVITA_API_URL=$url NOVITA_API_KEY=$key \
	E2B_DEBUG= node "$here/sdk-test.mjs"
rc=$?

kill "$pid"
wait "$pid"
src=$?
pid=
if [ "$src" -ne 0 ]; then
	echo "sbxd exited with status $src"
	rc=1
fi
if [ -s "$work/stderr" ]; then
	echo "unexpected sbxd stderr:"
	cat "$work/stderr"
	rc=1
fi
exit $rc
