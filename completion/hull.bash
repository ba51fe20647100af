# bash completion for hull: commands, their flags, container and image names.
#
# The commands and flags come from hull's own --help ("Commands:" and "Options:" sections),
# so this file never goes stale when a flag is added; container names from `hull ps -a`,
# image names from `hull images`. Installed by meson as
# $datadir/bash-completion/completions/hull (loaded on demand by bash-completion), or source
# it from ~/.bashrc.

# _hull_help HULL [--root DIR] WORDS...: the usage of that command
_hull_help()
{
	"$@" --help 2>/dev/null
}

_hull_commands()
{
	_hull_help "$@" | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'
}

_hull_flags()
{
	_hull_help "$@" | sed -n '/^Options:/,/^$/p' | grep -oE -- '(^|[ ,])-(-[a-z0-9][a-z0-9-]*|[a-zA-Z])' |
		tr -d ' ,'
}

# _hull_takes_arg FLAG HULL WORDS...: whether FLAG is followed by a value in the usage
_hull_takes_arg()
{
	local flag=$1
	shift
	_hull_help "$@" | sed -n '/^Options:/,/^$/p' |
		grep -qE -- "(^|[ ,])${flag}(, --[a-z0-9-]+)? [^ ]"
}

_hull_containers()
{
	"$@" ps -a 2>/dev/null | awk 'NR > 1 { print $NF; print $1 }'
}

_hull_networks()
{
	"$@" network ls -q 2>/dev/null
}

_hull_images()
{
	"$@" images 2>/dev/null | awk 'NR > 1 && $1 != "<none>" {
		print $1 ":" $2; if ($2 == "latest") print $1
		n = split($1, p, "/"); if (p[1] == "localhost") { print p[n] ":" $2; if ($2 == "latest") print p[n] } }'
}

_hull()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local -a hull=("${COMP_WORDS[0]}") path=()
	local i=1 cmd= operands=0 w

	# global options, then the command (and the subcommand of img, vm, system, network, volume)
	while ((i < COMP_CWORD)); do
		w=${COMP_WORDS[i]}
		case $w in
		--root) hull+=(--root "${COMP_WORDS[i + 1]}"); ((i += 2)); continue ;;
		--root=*) hull+=("$w"); ((i++)); continue ;;
		-*) ((i++)); continue ;;
		esac
		cmd=$w
		break
	done
	if [[ -z $cmd ]]; then
		if [[ $prev == --root ]]; then
			COMPREPLY=($(compgen -d -- "$cur"))
		elif [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$(_hull_flags "${hull[@]}")" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_hull_commands "${hull[@]}") help version" -- "$cur"))
		fi
		return 0
	fi
	path=("$cmd")
	((i++))
	case $cmd in
	help)
		COMPREPLY=($(compgen -W "$(_hull_commands "${hull[@]}")" -- "$cur"))
		return 0
		;;
	img | vm | system | network | volume)
		if ((i >= COMP_CWORD)); then
			COMPREPLY=($(compgen -W "$(_hull_commands "${hull[@]}" "$cmd")" -- "$cur"))
			return 0
		fi
		path+=("${COMP_WORDS[i]}")
		((i++))
		;;
	esac
	# count the operands before the cursor, skipping flags and their values
	while ((i < COMP_CWORD)); do
		w=${COMP_WORDS[i]}
		if [[ $w == -- ]]; then
			((operands++))
		elif [[ $w == -* && $w != *=* ]] && _hull_takes_arg "$w" "${hull[@]}" "${path[@]}"; then
			((i++))
		elif [[ $w != -* ]]; then
			((operands++))
		fi
		((i++))
	done
	if [[ $prev == --network || $prev == --net ]]; then
		COMPREPLY=($(compgen -W "$(_hull_networks "${hull[@]}") none host container:" -- "$cur"))
		return 0
	fi
	if [[ $prev == -* && $prev != *=* ]] && _hull_takes_arg "$prev" "${hull[@]}" "${path[@]}"; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_hull_flags "${hull[@]}" "${path[@]}")" -- "$cur"))
		return 0
	fi
	case $cmd in
	run | create)
		if ((operands == 0)); then
			COMPREPLY=($(compgen -W "$(_hull_images "${hull[@]}")" -- "$cur"))
		fi
		;;
	network)
		case ${path[1]} in
		inspect | rm | remove)
			COMPREPLY=($(compgen -W "$(_hull_networks "${hull[@]}")" -- "$cur")) ;;
		esac
		;;
	port)
		if ((operands == 0)); then
			COMPREPLY=($(compgen -W "$(_hull_containers "${hull[@]}")" -- "$cur"))
		fi
		;;
	start | stop | kill | rm | logs | top | stats | export)
		COMPREPLY=($(compgen -W "$(_hull_containers "${hull[@]}")" -- "$cur"))
		;;
	exec)
		if ((operands == 0)); then
			COMPREPLY=($(compgen -W "$(_hull_containers "${hull[@]}")" -- "$cur"))
		fi
		;;
	inspect)
		COMPREPLY=($(compgen -W "$(_hull_containers "${hull[@]}") $(_hull_images "${hull[@]}")" -- "$cur"))
		;;
	rmi | save)
		COMPREPLY=($(compgen -W "$(_hull_images "${hull[@]}")" -- "$cur"))
		;;
	tag)
		if ((operands == 0)); then
			COMPREPLY=($(compgen -W "$(_hull_images "${hull[@]}")" -- "$cur"))
		fi
		;;
	*)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	esac
	return 0
}

complete -F _hull hull
