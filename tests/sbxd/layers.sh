#!/usr/bin/env bash
# The shape of src/sbxd and src/common, checked from their sources:
#  - includes obey  http/ -> api/ -> registry/ -> runtime/ -> base/ -> src/common
#    (init/, the sandbox's PID 1, sees runtime/'s wire format only),
#    nothing upward; src/common uses libc and pthreads only;
#  - no file over 600 lines, no function body over 60.
#   tests/sbxd/layers.sh SOURCE_ROOT
set -uo pipefail
cd "${1:-$(dirname "$0")/../..}" || exit 1
status=0
rank() {
	case $1 in
	http) echo 5 ;; api) echo 4 ;; envd) echo 4 ;; registry) echo 3 ;; runtime | init) echo 2 ;;
	base) echo 1 ;; common) echo 0 ;;
	*) echo -1 ;;
	esac
}

# A folder's files may include their own folder and those below it.
for f in src/sbxd/*/*.[ch]; do
	dir=$(basename "$(dirname "$f")")
	mine=$(rank "$dir")
	while read -r inc; do
		to=${inc%%/*}
		[ "$to" = "$inc" ] && to=top
		theirs=$(rank "$to")
		if [ "$to" = top ] && [ "$inc" != sbxd.h ] && [ "$inc" != config.h ]; then
			echo "layers: $f includes \"$inc\": name its folder (\"FOLDER/$inc\")"
			status=1
		elif [ "$theirs" -gt "$mine" ]; then
			echo "layers: $f ($dir) includes \"$inc\" from a layer above it"
			status=1
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done

for f in src/common/*.[ch]; do
	bad=$(grep -nE '^#include (<(fuse|curl|microhttpd|jansson|sqlite3)|"(sbxd|sbxfs|http|api|registry|base)/)' "$f")
	if [ -n "$bad" ]; then
		echo "layers: $f must use libc and pthreads only: $bad"
		status=1
	fi
done

for f in src/sbxd/*.[ch] src/sbxd/*/*.[ch] src/common/*.[ch]; do
	n=$(wc -l < "$f")
	if [ "$n" -gt 600 ]; then
		echo "layers: $f has $n lines (600 at most)"
		status=1
	fi
done
# A function's body runs from a line "{" to the next line "}".
if ! awk '
	/^[A-Za-z].*\(/ { name = $0 }
	/^\{/ { start = FNR; fn = name }
	/^\}/ { if (start && FNR - start - 1 > 60) {
			printf "layers: %s:%d: %d-line function (60 at most): %s\n",
				FILENAME, start, FNR - start - 1, fn; bad = 1 }
		start = 0 }
	END { exit bad }' src/sbxd/*.c src/sbxd/*/*.c src/common/*.c; then
	status=1
fi
[ $status -eq 0 ] && echo "layers: ok"
exit $status
