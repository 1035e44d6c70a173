# bash completion for dkms and dkms-autoinstall (dkms-go).
# Module and version names come from the DKMS tree (--dkmstree on the line,
# else /var/lib/dkms), kernel versions from the module tree (--installtree,
# else /lib/modules). Needs nothing from the bash-completion package.
# shellcheck shell=bash

_dkms_actions="add remove build unbuild install uninstall match autoinstall
mktarball ldtarball status generate_mok kernel_preinst kernel_postinst
kernel_prerm initramfs-check doctor mkdeb mkrpm"

_dkms_options="-m --module -v -k --kernelver -a --arch -c --templatekernel
--config --archive --kernelsourcedir --dkmstree --sourcetree --installtree
--directive -j -q --quiet -V --version -h --help --force
--force-version-override --all --verbose --rpm_safe_upgrade --binaries-only
--source-only --no-depmod --modprobe-on-install --symlink-modules --json
--debug"

# _dkms_tree_opt NAME DEFAULT: the value of --NAME given earlier on the line.
_dkms_tree_opt() {
	local i w v=$2
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == "--$1" ]]; then
			if [[ ${COMP_WORDS[i + 1]} == "=" ]]; then
				v=${COMP_WORDS[i + 2]}
			else
				v=${COMP_WORDS[i + 1]}
			fi
		elif [[ $w == "--$1="* ]]; then
			v=${w#*=}
		fi
	done
	printf '%s\n' "$v"
}

# _dkms_modules [MODULE]: module names and module/version pairs of the tree,
# or only the versions of MODULE.
_dkms_modules() {
	local tree m v
	tree=$(_dkms_tree_opt dkmstree /var/lib/dkms)
	for m in "$tree"/*/; do
		[[ -d $m ]] || continue
		m=${m%/}
		m=${m##*/}
		[[ -n $1 && $m != "$1" ]] && continue
		[[ -z $1 ]] && printf '%s\n' "$m"
		for v in "$tree/$m"/*/; do
			[[ -d $v ]] || continue
			v=${v%/}
			v=${v##*/}
			[[ $v == original_module ]] && continue
			if [[ -n $1 ]]; then
				printf '%s\n' "$v"
			else
				printf '%s\n' "$m/$v"
			fi
		done
	done
}

_dkms_kernels() {
	local d tree
	tree=$(_dkms_tree_opt installtree /lib/modules)
	for d in "$tree"/*/; do
		[[ -d $d ]] || continue
		d=${d%/}
		printf '%s\n' "${d##*/}"
	done
}

# _dkms_module_given: the module named by -m/--module or a bare word.
_dkms_module_given() {
	local i w
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-m | --module)
			w=${COMP_WORDS[i + 1]}
			[[ $w == "=" ]] && w=${COMP_WORDS[i + 2]}
			printf '%s\n' "${w%%/*}"
			return
			;;
		--module=*)
			w=${w#*=}
			printf '%s\n' "${w%%/*}"
			return
			;;
		esac
	done
}

# _dkms_reply WORDS CUR: the words (blank- or newline-separated) that start
# with CUR; split on newlines only, so "$cur" is never glob-expanded.
_dkms_reply() {
	local IFS=$'\n'
	# shellcheck disable=SC2207
	COMPREPLY=($(compgen -W "${1// /$'\n'}" -- "$2"))
}

_dkms_files() {
	local IFS=$'\n'
	# shellcheck disable=SC2207
	COMPREPLY=($(compgen "$1" -- "$2"))
	compopt -o filenames 2>/dev/null
}

_dkms() {
	local cur prev opt i w action=""
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	opt=$prev
	# --opt=value: bash splits at "=" (COMP_WORDBREAKS); "=" itself may be cur.
	if [[ $cur == "=" ]]; then
		cur=""
	elif [[ $prev == "=" ]]; then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		cur=${cur#*=}
	fi
	case $opt in
	-m | --module)
		_dkms_reply "$(_dkms_modules)" "$cur"
		return
		;;
	-v)
		_dkms_reply "$(_dkms_modules "$(_dkms_module_given)")" "$cur"
		return
		;;
	-k | --kernelver | --templatekernel)
		_dkms_reply "$(_dkms_kernels)" "$cur"
		return
		;;
	-a | --arch)
		_dkms_reply "$(uname -m)" "$cur"
		return
		;;
	-j)
		_dkms_reply "$(seq 1 "$(nproc 2>/dev/null || echo 1)")" "$cur"
		return
		;;
	-c | --config | --archive)
		_dkms_files -f "$cur"
		return
		;;
	--kernelsourcedir | --dkmstree | --sourcetree | --installtree)
		_dkms_files -d "$cur"
		return
		;;
	--directive)
		return
		;;
	esac
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case " ${_dkms_actions//$'\n'/ } " in
		*" $w "*)
			action=$w
			break
			;;
		esac
	done
	if [[ $cur == -* ]]; then
		_dkms_reply "${_dkms_options//$'\n'/ }" "$cur"
	elif [[ -z $action ]]; then
		_dkms_reply "${_dkms_actions//$'\n'/ }" "$cur"
	else
		case $action in
		add | ldtarball)
			_dkms_files -f "$cur"
			;;
		*)
			_dkms_reply "$(_dkms_modules)" "$cur"
			;;
		esac
	fi
}

_dkms_autoinstall() {
	local cur prev
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	case $prev in
	-k | --kernel | --kernelver)
		_dkms_reply "$(_dkms_kernels)" "$cur"
		return
		;;
	--hook)
		_dkms_reply "postinst prerm preinst kernel-install" "$cur"
		return
		;;
	-j)
		_dkms_reply "$(seq 1 "$(nproc 2>/dev/null || echo 1)")" "$cur"
		return
		;;
	--dkmstree | --sourcetree | --installtree)
		_dkms_files -d "$cur"
		return
		;;
	esac
	_dkms_reply "-k --kernel --kernelver --all-kernels --remove --preinst --boot --hook -j
--strict --load --no-load --no-depmod --dkmstree --sourcetree --installtree -h --help" "$cur"
}

complete -F _dkms dkms
complete -F _dkms_autoinstall dkms-autoinstall
