#!/usr/bin/env bash
# The data path of sbxfs goes one way: fs -> store -> {cache, api, envd} -> http,
# with model, util and src/common usable by all and nothing calling upward; config/ and
# daemon/ serve main.c.  Every include between folders names its folder
# ("cache/cache.h"), so the rule is checked here on the #include lines:
# a folder may include only its own files and those of the folders below
# it, and only fs/ and main.c see FUSE (config/ parses the command line
# with libfuse's <fuse_opt.h>, which carries no filesystem types).  The check then plants an upward
# include in a copy of the tree and must refuse it, so it cannot pass
# vacuously.  Last, the files and functions of src/sbxfs are kept within
# the sizes STYLE.md allows.
#
# usage: layers.sh SRCDIR   (the project's source root)
set -uo pipefail
src=${1:?usage: layers.sh SRCDIR}

# common/ is src/common, shared with sbxd: below every folder.
declare -A below=(
	[fs]="store cache api envd http model util common"
	[store]="cache api envd http model util common"
	[cache]="api http model util common"
	[api]="http model util common"
	[envd]="http model util common"
	[http]="model util common"
	[model]="util common"
	[util]="common"
	[config]="model util common"
	[daemon]="config store cache api envd http model util common"
)

check() { # TREE (src/sbxfs or a copy): prints each violation, fails on any
	local tree=$1 bad=0 f dir inc folder
	for dir in "$tree"/*/; do
		dir=$(basename "$dir")
		if [[ ! -v below[$dir] ]]; then
			echo "$dir/: a folder with no place in the layers"; bad=1
		fi
	done
	while IFS= read -r f; do
		# a subfolder (fs/nodes/) is part of its folder's layer
		dir=$(dirname "${f#"$tree"/}")
		dir=${dir%%/*}
		while IFS= read -r inc; do
			case $inc in
			*/*/* | ../* | ./*) echo "$f: #include \"$inc\": name it folder/file.h"; bad=1 ;;
			*/*)
				folder=${inc%%/*}
				if [[ $dir != . && $folder != "$dir" && " ${below[$dir]} " != *" $folder "* ]]; then
					echo "$f: #include \"$inc\": $dir/ may not include $folder/"; bad=1
				fi ;;
			config.h | sbxd.h) ;;
			*)
				if [[ ! -e $(dirname "$f")/$inc ]]; then
					echo "$f: #include \"$inc\": not in $dir/; name its folder"; bad=1
				fi ;;
			esac
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
		if [[ $dir != fs && $dir != . ]] &&
		   grep '^[[:space:]]*#[[:space:]]*include[[:space:]]*<fuse' "$f" |
		   grep -qv '<fuse_opt\.h>'; then
			echo "$f: only fs/ sees FUSE"; bad=1
		fi
	done < <(find "$tree" -name '*.[ch]' | sort)
	return $bad
}

check "$src/src/sbxfs" || { echo "FAIL: upward or unnamed includes above"; exit 1; }

tmp=$(mktemp -d /tmp/sbxfs-layers-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/src/sbxfs" "$tmp/sbxfs"
echo '#include "fs/fs.h"' >> "$tmp/sbxfs/http/http.c"
if check "$tmp/sbxfs" > "$tmp/out"; then
	echo "FAIL: an include of fs/ from http/ was not refused"; exit 1
fi
grep -q 'http/ may not include fs/' "$tmp/out" || { echo "FAIL: wrong report:"; cat "$tmp/out"; exit 1; }
# The size limits of STYLE.md: no file over 600 lines, no function body
# (from a line "{" to the next line "}") over 60.
status=0
while IFS= read -r f; do
	n=$(wc -l < "$f")
	if [ "$n" -gt 600 ]; then
		echo "FAIL: $f has $n lines (600 at most)"; status=1
	fi
done < <(find "$src/src/sbxfs" -name '*.[ch]' | sort)
if ! awk '
	/^[A-Za-z].*\(/ { name = $0 }
	/^\{/ { start = FNR; fn = name }
	/^\}/ { if (start && FNR - start - 1 > 60) {
			printf "FAIL: %s:%d: %d-line function (60 at most): %s\n",
				FILENAME, start, FNR - start - 1, fn; bad = 1 }
		start = 0 }
	END { exit bad }' $(find "$src/src/sbxfs" -name '*.c' | sort); then
	status=1
fi
[ $status -eq 0 ] || exit 1
echo "layers: ok"
