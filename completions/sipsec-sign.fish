complete -c sipsec-sign -l pcap -d 'Read a pcap or pcapng capture (repeatable; `-` for stdin)' -r -F
complete -c sipsec-sign -l pcap-out -d 'Also write the output messages as a pcap capture, with their original addresses and times' -r -F
complete -c sipsec-sign -l mtu -d 'With --pcap-out: fragment UDP datagrams and segment TCP streams to this IP MTU' -r
complete -c sipsec-sign -s o -l output -d 'Write messages here instead of stdout' -r -F
complete -c sipsec-sign -l report -d 'Write one JSON record a line per message to FILE (`-` for stderr)' -r -F
complete -c sipsec-sign -s j -l jobs -d 'Worker threads (default: one per CPU, at most 8); output order is kept, and what depends on the messages before (sipsec-verify\'s replay check) is decided in that order' -r
complete -c sipsec-sign -l max-size -d 'Refuse messages larger than this many bytes' -r
complete -c sipsec-sign -l control-key -d 'Per-run secret for the control header between sipsec processes (created, mode 0600, when missing; use a fresh file per run)' -r -F
complete -c sipsec-sign -l control-key-fd -d 'Read the control key from this inherited file descriptor' -r
complete -c sipsec-sign -l store -d 'Certificate store directory' -r -F
complete -c sipsec-sign -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-sign -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-sign -l form -d 'What the S/MIME signature covers (see below). Default sip; with --identity and no --form, only the Identity header is added' -r -f -a "body\t'The body only, in multipart/signed (RFC 3261 §23.2)'
sip\t'A copy of the whole message as message/sip in multipart/signed (RFC 3261 §23.4)'
aib\t'An Authenticated Identity Body (message/sipfrag) beside the body (RFC 3893)'
cms\t'application/pkcs7-mime signed-data: the content travels inside the CMS (RFC 8591)'"
complete -c sipsec-sign -l select -d 'Which messages to sign: all, request, response, body, rfc3261, METHOD, STATUS or STATUS/METHOD (e.g. 2xx/INVITE), comma-separated. Default: RFC 3261 §23.2 (dialog-initiating and out-of-dialog requests, 2xx responses to INVITE)' -r
complete -c sipsec-sign -l digest -d 'Digest algorithm (micalg); SHA-256 is RFC 8591\'s MUST' -r -f -a "sha256\t''
sha1\t''
sha384\t''
sha512\t''"
complete -c sipsec-sign -l handling -d 'The handling parameter of the signature\'s Content-Disposition' -r -f -a "required\t''
optional\t''"
complete -c sipsec-sign -l internal -d 'A header private to this deployment, never copied into a signed message (repeatable)' -r
complete -c sipsec-sign -l sti-fallback -d 'The STI identity (a store AOR with an STI certificate) that signs calls from callers the store does not know, with attestation C' -r
complete -c sipsec-sign -l json -d 'Print the JSON records on stdout instead of the messages'
complete -c sipsec-sign -l fail-open -d 'Pass a message the tool cannot handle on unchanged, with a warning'
complete -c sipsec-sign -l fail-closed -d 'Withhold a message the tool cannot handle, and record why'
complete -c sipsec-sign -l datagram -d 'Each input is one datagram: no Content-Length needed, trailing bytes reported'
complete -c sipsec-sign -l keep-control -d 'Keep the control header on output, for a next sipsec filter (needs a control key)'
complete -c sipsec-sign -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-sign -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-sign -l no-certs -d 'Leave the signer certificate and chain out of the CMS (RFC 3261 §23.2 wants them in; some implementations leave them out)'
complete -c sipsec-sign -l legacy-ciphers -d 'Also advertise 3DES in the signature\'s SMIMECapabilities (only for peers that have nothing better; AES-GCM and AES-CBC are always advertised)'
complete -c sipsec-sign -l base64 -d 'Base64 Content-Transfer-Encoding for the CMS instead of binary (RFC 3853)'
complete -c sipsec-sign -l trust-from-header -d 'Vouch that the input\'s From (requests) and To (responses) are authentic, so unattributed messages are signed as they say (for shell pipelines)'
complete -c sipsec-sign -l identity -d 'Add a STIR Identity header (RFC 8224) to initial requests: a SHAKEN PASSporT signed with the STI certificate of the caller\'s group (see below), or a div PASSporT when a call that already carries one is forwarded'
complete -c sipsec-sign -l compact -d 'The Identity in compact form (a baseline PASSporT, without SHAKEN attestation, which only the full form carries)'
complete -c sipsec-sign -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipsec-sign -s V -l version -d 'Print version'
