#!/bin/bash
# Runs sdk-test.mjs (control plane) against a fresh sbxd on a free loopback
# port, then sdk-envd.mjs (envd) against one with --runtime bwrap.
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
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

key=sdk-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$key" > "$work/key"

# start NAME [sbxd options...]: an sbxd on a free port; its URL in $url.
start() {
	local name=$1
	shift
	"$sbxd" --listen 127.0.0.1:0 --ready-file "$work/$name.port" --api-key-file "$work/key" \
		--log-level warn "$@" 2> "$work/$name.stderr" &
	pids+=($!)
	for _ in $(seq 100); do
		[ -s "$work/$name.port" ] && break
		sleep 0.05
	done
	if [ ! -s "$work/$name.port" ]; then
		echo "sbxd ($name) did not start:"
		cat "$work/$name.stderr"
		exit 1
	fi
	url=http://127.0.0.1:$(cat "$work/$name.port")
}

# stop NAME: stops the last sbxd started; fails on a bad exit or stderr.
stop() {
	local p=${pids[-1]} src
	kill "$p"
	wait "$p"
	src=$?
	unset 'pids[-1]'
	if [ "$src" -ne 0 ]; then
		echo "sbxd ($1) exited with status $src"
		return 1
	fi
	if [ -s "$work/$1.stderr" ]; then
		echo "unexpected sbxd ($1) stderr:"
		cat "$work/$1.stderr"
		return 1
	fi
}

rc=0
start control
E2B_API_URL=$url E2B_API_KEY=$key NOVITA_API_URL=$url NOVITA_API_KEY=$key \
	E2B_DEBUG= node "$here/sdk-test.mjs" || rc=1
stop control || rc=1

# envd (files, commands, pty, metrics, logs) needs sandboxes that run
# processes: sbxd --runtime bwrap, where bubblewrap can make namespaces.
if ! "$sbxd" --help 2>&1 | grep -q -- '--runtime'; then
	echo "SKIP: envd part: this sbxd has no --runtime"
elif ! command -v bwrap >/dev/null || ! bwrap --ro-bind / / --unshare-user-try true 2>/dev/null; then
	echo "SKIP: envd part: bubblewrap cannot run here"
else
	start envd --runtime bwrap --state-dir "$work/state"
	E2B_API_URL=$url E2B_SANDBOX_URL=$url E2B_API_KEY=$key NOVITA_API_URL=$url \
		NOVITA_SANDBOX_URL=$url NOVITA_API_KEY=$key E2B_DEBUG= \
		node "$here/sdk-envd.mjs" || rc=1
	stop envd || rc=1
fi
exit $rc
