complete -c sipsec-verify -l pcap -d 'Read a pcap or pcapng capture (repeatable; `-` for stdin)' -r -F
complete -c sipsec-verify -l pcap-out -d 'Also write the output messages as a pcap capture, with their original addresses and times' -r -F
complete -c sipsec-verify -l mtu -d 'With --pcap-out: fragment UDP datagrams and segment TCP streams to this IP MTU' -r
complete -c sipsec-verify -s o -l output -d 'Write messages here instead of stdout' -r -F
complete -c sipsec-verify -l report -d 'Write one JSON record a line per message to FILE (`-` for stderr)' -r -F
complete -c sipsec-verify -s j -l jobs -d 'Worker threads (default: one per CPU, at most 8); output order is kept, and what depends on the messages before (sipsec-verify\'s replay check) is decided in that order' -r
complete -c sipsec-verify -l max-size -d 'Refuse messages larger than this many bytes' -r
complete -c sipsec-verify -l control-key -d 'Per-run secret for the control header between sipsec processes (created, mode 0600, when missing; use a fresh file per run)' -r -F
complete -c sipsec-verify -l control-key-fd -d 'Read the control key from this inherited file descriptor' -r
complete -c sipsec-verify -l store -d 'Certificate store directory' -r -F
complete -c sipsec-verify -l require -d 'Which checks must pass for a message to be accepted (levels include the ones before): signed (intact, not a replay), trusted, identity (and inner-outer), fresh; and, for STIR, attested=A|B|C (a valid SHAKEN Identity with at least that attestation). Repeat to ask for both' -r
complete -c sipsec-verify -l sti-anchors -d 'Check STIR Identity headers (RFC 8224) against these STI anchors (PEM, one or more certificates); the outcome joins the verdict' -r -F
complete -c sipsec-verify -l x5u-cache -d 'Where x5u certificate chains are cached (one .pem and one .meta per URL); without --fetch-x5u only cached chains are used' -r -F
complete -c sipsec-verify -l x5u-tls-anchors -d 'Trust these CAs (PEM) for the HTTPS servers of x5u URLs instead of the system\'s' -r -F
complete -c sipsec-verify -l x5u-timeout -d 'The whole time one x5u fetch may take, in milliseconds' -r
complete -c sipsec-verify -l x5u-max-bytes -d 'The largest x5u answer accepted, in bytes' -r
complete -c sipsec-verify -l stir-freshness -d 'How far iat and Date may be from now, in seconds (RFC 8224 recommends 60)' -r
complete -c sipsec-verify -l peer-policy -d 'File of AORs or domains (one a line) that must always arrive signed: their messages need at least `--require identity`, so a stripped signature is noticed' -r -F
complete -c sipsec-verify -l now -d 'Judge at this time (seconds since 1970) when a message has no capture time' -r
complete -c sipsec-verify -l window -d 'Oldest signed Date accepted, in seconds (RFC 3893 §10)' -r
complete -c sipsec-verify -l future-skew -d 'How far ahead of now a signed Date may be, in seconds (clock skew)' -r
complete -c sipsec-verify -l retransmit-interval -d 'A repeat of a signature within this many seconds is a retransmission (64*T1)' -r
complete -c sipsec-verify -l replay-cache -d 'Signatures the replay cache holds (about 100 bytes each); when full, new signed messages are refused until entries expire' -r
complete -c sipsec-verify -l json -d 'Print the JSON records on stdout instead of the messages'
complete -c sipsec-verify -l fail-open -d 'Pass a message the tool cannot handle on unchanged, with a warning'
complete -c sipsec-verify -l fail-closed -d 'Withhold a message the tool cannot handle, and record why'
complete -c sipsec-verify -l datagram -d 'Each input is one datagram: no Content-Length needed, trailing bytes reported'
complete -c sipsec-verify -l keep-control -d 'Keep the control header on output, for a next sipsec filter (needs a control key)'
complete -c sipsec-verify -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-verify -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-verify -l fetch-x5u -d 'Fetch x5u chains that are not cached, over HTTPS (no redirects followed)'
complete -c sipsec-verify -l unwrap -d 'Replace the S/MIME body with the content it protected (the original SDP)'
complete -c sipsec-verify -l learn-certs -d 'Store signer certificates that passed trust and identity (in the store\'s learned/ part, never replacing a known one), for sipsec-encrypt'
complete -c sipsec-verify -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipsec-verify -s V -l version -d 'Print version'
