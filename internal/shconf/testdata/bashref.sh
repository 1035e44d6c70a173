#!/bin/bash
# Reference evaluator for the differential test: upstream dkms 3.2.2's
# safe_source, run by real bash. Usage: bashref.sh VARSFILE CONF NAMES...
# VARSFILE holds the unexported dkms variables (kernelver=...), one
# assignment a line. Prints NAME[i]=value records separated by NUL bytes.
while IFS= read -r line; do
	declare -- "$line"
done <"$1"
shift
conf=$1
shift
names=("$@")
for n in "${names[@]}"; do unset "$n"; done

safe_source() {
	local to_source_file="$1"
	shift
	declare -a -r export_envs=("$@")
	local tmpfile
	tmpfile=$(mktemp)
	(
		exec >"$tmpfile"
		# shellcheck source=/dev/null # the dkms.conf under test
		. "$to_source_file" >/dev/null
		for _export_env in "${export_envs[@]}"; do
			_idx=()
			eval "_idx=(\"\${!${_export_env}[@]}\")"
			for _i in "${_idx[@]}"; do
				# One trailing CR is removed (spec 3.1/4.2); the echo stays
				# unquoted like upstream's, so values are word-split.
				eval "_v=\${${_export_env}[$_i]}"
				_v=${_v%$'\r'}
				# shellcheck disable=SC2086 # the value is word-split on purpose
				echo "${_export_env}[${_i}]=\""$_v\"
			done
		done
		for directive in $(set | grep ^DKMS_DIRECTIVE | cut -d = -f 2-3); do
			directive_name=${directive%%=*}
			directive_value=${directive#*=}
			echo "$directive_name=\"$directive_value\""
		done
	)
	# shellcheck source=/dev/null # written just above
	. "$tmpfile"
	rm "$tmpfile"
}

cd "$(dirname "$conf")" || exit 1
safe_source "$conf" "${names[@]}"
for n in "${names[@]}"; do
	idx=() v=
	eval "idx=(\${!${n}[@]})"
	for i in "${idx[@]}"; do
		eval "v=\${${n}[$i]}"
		printf '%s[%s]=%s\0' "$n" "$i" "$v"
	done
done
