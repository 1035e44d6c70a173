#!/bin/bash
# bashref.sh VARS_FILE CONF NAME...
#
# The bash half of TestCorpusMatchesBash. It prints the values that the
# variables NAME... hold once real bash has read CONF the way dkms reads a
# configuration file (docs/INTERFACE.md §3.1, §4.1 and §4.2), as records
# NAME[index]=value, each ended by a NUL byte: names in the order given,
# indexes ascending, unset variables left out. VARS_FILE holds the dkms
# variables a conf sees without their being exported, one NAME=value line
# each.
#
# dkms reads a file in three steps, and every quirk of them is kept here,
# since the evaluator under test has to reproduce them:
#  1. a subshell runs the file, from inside a shell function whose
#     arguments are the wanted names, with standard output discarded;
#  2. that subshell then writes a script of assignments: for each element
#     of each wanted variable NAME[index]="value", one trailing carriage
#     return removed and the value handed to echo unquoted (so it is split
#     into words, globbed and joined again with single blanks), and for
#     each word of the DKMS_DIRECTIVE* variables, as `set` lists them, a
#     NAME="VALUE" line;
#  3. the calling shell sources that script, expanding every value a
#     second time.

vars_file=$1
conf=$2
shift 2
declare -ar wanted=("$@")

while IFS= read -r assignment; do
	declare -- "$assignment"
done <"$vars_file"

# Only what the file itself sets may come back.
for name in "${wanted[@]}"; do
	unset -v "$name"
done

# evaluate CONF SCRIPT NAME...: steps 1 and 2, the script written to SCRIPT.
evaluate() {
	local file=$1 script=$2
	shift 2
	(
		exec >"$script"
		# shellcheck source=/dev/null # the conf under test
		. "$file" >/dev/null
		# Whatever the file defined lives on in this subshell only; the
		# double underscores keep these names apart from a conf's own.
		local -a __keys
		local __value
		for __name in "${wanted[@]}"; do
			eval "__keys=(\"\${!${__name}[@]}\")"
			for __key in "${__keys[@]}"; do
				eval "__value=\${${__name}[\$__key]}"
				__value=${__value%$'\r'}
				# shellcheck disable=SC2086 # word splitting is the quirk under test
				echo "${__name}[${__key}]=\""$__value\"
			done
		done
		for __word in $(set | grep '^DKMS_DIRECTIVE' | cut -d = -f 2-3); do
			echo "${__word%%=*}=\"${__word#*=}\""
		done
	)
}

script=$(mktemp) || exit 1
cd -- "$(dirname -- "$conf")" || exit 1
evaluate "$conf" "$script" "${wanted[@]}"
# shellcheck source=/dev/null # written by evaluate
. "$script"
rm -f -- "$script"

declare -a keys
declare value
for name in "${wanted[@]}"; do
	eval "keys=(\"\${!${name}[@]}\")"
	for key in "${keys[@]}"; do
		eval "value=\${${name}[\$key]}"
		printf '%s[%s]=%s\0' "$name" "$key" "$value"
	done
done
