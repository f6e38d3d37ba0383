complete -c sipsec-decrypt -l pcap -d 'Read a pcap or pcapng capture (repeatable; `-` for stdin)' -r -F
complete -c sipsec-decrypt -l pcap-out -d 'Also write the output messages as a pcap capture, with their original addresses and times' -r -F
complete -c sipsec-decrypt -l mtu -d 'With --pcap-out: fragment UDP datagrams and segment TCP streams to this IP MTU' -r
complete -c sipsec-decrypt -s o -l output -d 'Write messages here instead of stdout' -r -F
complete -c sipsec-decrypt -l report -d 'Write one JSON record a line per message to FILE (`-` for stderr)' -r -F
complete -c sipsec-decrypt -s j -l jobs -d 'Worker threads (default: one per CPU, at most 8); output order is kept, and what depends on the messages before (sipsec-verify\'s replay check) is decided in that order' -r
complete -c sipsec-decrypt -l max-size -d 'Refuse messages larger than this many bytes' -r
complete -c sipsec-decrypt -l control-key -d 'Per-run secret for the control header between sipsec processes (created, mode 0600, when missing; use a fresh file per run)' -r -F
complete -c sipsec-decrypt -l control-key-fd -d 'Read the control key from this inherited file descriptor' -r
complete -c sipsec-decrypt -l store -d 'Certificate store directory' -r -F
complete -c sipsec-decrypt -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-decrypt -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-decrypt -l json -d 'Print the JSON records on stdout instead of the messages'
complete -c sipsec-decrypt -l fail-open -d 'Pass a message the tool cannot handle on unchanged, with a warning'
complete -c sipsec-decrypt -l fail-closed -d 'Withhold a message the tool cannot handle, and record why'
complete -c sipsec-decrypt -l datagram -d 'Each input is one datagram: no Content-Length needed, trailing bytes reported'
complete -c sipsec-decrypt -l keep-control -d 'Keep the control header on output, for a next sipsec filter (needs a control key)'
complete -c sipsec-decrypt -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-decrypt -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-decrypt -l open-signed -d 'Also open an envelope covered by a signature (encrypt-then-sign), dropping the signature unverified'
complete -c sipsec-decrypt -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipsec-decrypt -s V -l version -d 'Print version'
