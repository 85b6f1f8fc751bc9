# SPDX-License-Identifier: Apache-2.0
# bash completion for aigw-cli: commands, the options of each, files for
# --config and --request, and "provider/model" names after -m PROVIDER/
# (from `aigw-cli models PROVIDER`). Installed as
# share/bash-completion/completions/aigw-cli; or: source aigw-cli.bash

_aigw_cli_models() {
    local cur=$1 provider cfg=$2
    [[ $cur == */* ]] || return
    provider=${cur%%/*}
    local -a args=(models "$provider")
    [[ -n $cfg ]] && args+=(--config "$cfg")
    local list
    list=$(timeout 3 "${COMP_WORDS[0]}" "${args[@]}" 2>/dev/null) || return
    COMPREPLY=($(compgen -W "$list" -- "$cur"))
}

_aigw_cli() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="chat embed models serve config budgets help"
    local common="-h --help -v --verbose -c --config --json"
    local call="--key --team -u --user -H --header --info"
    local request="-o --option --request --max-input"
    local cmd= sub= cfg= i word
    COMPREPLY=()

    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
        -c | --config)
            cfg=${COMP_WORDS[i + 1]}
            ((i++))
            ;;
        --config=*) cfg=${word#--config=} ;;
        -m | --model | -s | --system | -l | --listen | -w | --workers | --max-tokens | \
            --temperature | --dimensions | --key | --team | -u | --user | -H | --header | \
            -o | --option | --request | --max-input)
            ((i++))
            ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=$word
            elif [[ -z $sub ]]; then
                sub=$word
            fi
            ;;
        esac
    done

    case $prev in
    -c | --config | --request)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    -m | --model)
        _aigw_cli_models "$cur" "$cfg"
        return
        ;;
    -s | --system | -l | --listen | -w | --workers | --max-tokens | --temperature | \
        --dimensions | --key | --team | -u | --user | -H | --header | -o | --option | --max-input)
        return
        ;;
    esac

    local opts=
    case $cmd in
    "")
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$common -V --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
        ;;
    chat) opts="-m --model -s --system --max-tokens --temperature --no-stream --usage $call $request" ;;
    embed) opts="-m --model --dimensions --usage $call $request" ;;
    serve) opts="-l --listen -w --workers --allow-open" ;;
    models | budgets) opts= ;;
    config)
        if [[ -z $sub && $cur != -* ]]; then
            COMPREPLY=($(compgen -W "check" -- "$cur"))
            return
        fi
        ;;
    help)
        [[ -z $sub ]] && COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
        ;;
    *) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts $common" -- "$cur"))
    elif [[ $cmd == config ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

complete -F _aigw_cli aigw-cli
