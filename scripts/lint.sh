#!/bin/sh
# Every static check, each over the whole repository; any finding fails.
# The Go tools are pinned in go.mod (tool directive); shellcheck comes from
# scripts/deps.sh. A missing tool is a failure, never a skip.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
fail=0
finding() {
	printf 'lint: %s:\n%s\n' "$1" "$2" >&2
	fail=1
}

command -v shellcheck >/dev/null || {
	echo "lint: shellcheck missing (scripts/deps.sh installs it)" >&2
	exit 1
}

# gofmt: every Go file the repository tracks (bench/ and test/ included).
out=$(git ls-files -z '*.go' | xargs -0 gofmt -l)
[ -z "$out" ] || finding "gofmt needed" "$out"

out=$($GO mod tidy -diff 2>&1) || finding "go mod tidy changes go.mod or go.sum" "$out"

out=$($GO vet ./... 2>&1) || finding "go vet" "$out"

out=$($GO tool staticcheck ./... 2>&1) || finding "staticcheck" "$out"

# deadcode: a function reached only from tests is unused, except in the
# packages that exist for the tests (testenv, the harnesses under test/). With -test,
# nothing at all may be unreachable, those packages included.
out=$($GO tool deadcode ./... 2>&1 | grep -v -e '^internal/testenv/' -e '^test/') || true
[ -z "$out" ] || finding "deadcode (unused outside tests)" "$out"
out=$($GO tool deadcode -test ./... 2>&1) || true
[ -z "$out" ] || finding "deadcode -test (unused even by tests)" "$out"

# Citations: the code cites the interface by section of docs/INTERFACE.md,
# never the contract outside the repository, and every section it names
# must be there.
out=$(git ls-files -z '*.go' | xargs -0 grep -n 'shared/spec') || true
[ -z "$out" ] || finding "Go files citing shared/spec (cite docs/INTERFACE.md)" "$out"
have=$(sed -n 's/^##* \([0-9][0-9]*\(\.[0-9][0-9]*\)\{0,1\}\)[. ].*/\1/p' docs/INTERFACE.md)
out=$(git ls-files -z '*.go' | xargs -0 grep -o '§[0-9][0-9]*\(\.[0-9][0-9]*\)\{0,1\}' |
	sort -u | while IFS= read -r hit; do
		sec=${hit##*§}
		echo "$have" | grep -qx "$sec" || echo "$hit"
	done)
[ -z "$out" ] || finding "sections cited but missing from docs/INTERFACE.md" "$out"

# Shell scripts: every tracked file that is one by its name or by its
# #! line. The bash completion has no #! line, so its name says the shell;
# There is no zsh mode in shellcheck: completion/_dkms has its own test.
shfiles=$(git ls-files | while IFS= read -r f; do
	case $f in
	*.sh | *.bash) echo "$f" ;;
	*) [ -f "$f" ] && head -n 1 "$f" | grep -qE '^#! *(/usr)?/bin/(env +)?(ba|da)?sh( |$)' && echo "$f" ;;
	esac
done) || true
[ -n "$shfiles" ] || finding "shellcheck" "no shell files found"
bashfiles=$(echo "$shfiles" | grep '\.bash$') || true
shfiles=$(echo "$shfiles" | grep -v '\.bash$')
# shellcheck disable=SC2086 # one path a line, none with blanks
[ -z "$bashfiles" ] || out=$(shellcheck --shell=bash $bashfiles 2>&1) || finding "shellcheck" "$out"
# shellcheck disable=SC2086 # as above
out=$(shellcheck $shfiles 2>&1) || finding "shellcheck" "$out"

exit $fail
