_sipsec__verify() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="sipsec__verify"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        sipsec__verify)
            opts="-o -j -q -v -h -V --pcap --pcap-out --mtu --output --report --json --fail-open --fail-closed --jobs --datagram --max-size --control-key --control-key-fd --keep-control --quiet --verbose --store --require --sti-anchors --x5u-cache --fetch-x5u --x5u-tls-anchors --x5u-timeout --x5u-max-bytes --stir-freshness --peer-policy --unwrap --learn-certs --now --window --future-skew --retransmit-interval --replay-cache --help --version"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --pcap)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --pcap-out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --mtu)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --output)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -o)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --report)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --jobs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                -j)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --control-key)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --control-key-fd)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --store)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --require)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sti-anchors)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --x5u-cache)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --x5u-tls-anchors)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --x5u-timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --x5u-max-bytes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --stir-freshness)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --peer-policy)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --now)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --window)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --future-skew)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --retransmit-interval)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --replay-cache)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _sipsec__verify -o nosort -o bashdefault -o default sipsec-verify
else
    complete -F _sipsec__verify -o bashdefault -o default sipsec-verify
fi
