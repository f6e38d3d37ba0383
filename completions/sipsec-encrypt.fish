complete -c sipsec-encrypt -l pcap -d 'Read a pcap or pcapng capture (repeatable; `-` for stdin)' -r -F
complete -c sipsec-encrypt -l pcap-out -d 'Also write the output messages as a pcap capture, with their original addresses and times' -r -F
complete -c sipsec-encrypt -l mtu -d 'With --pcap-out: fragment UDP datagrams and segment TCP streams to this IP MTU' -r
complete -c sipsec-encrypt -s o -l output -d 'Write messages here instead of stdout' -r -F
complete -c sipsec-encrypt -l report -d 'Write one JSON record a line per message to FILE (`-` for stderr)' -r -F
complete -c sipsec-encrypt -s j -l jobs -d 'Worker threads (default: one per CPU, at most 8); output order is kept, and what depends on the messages before (sipsec-verify\'s replay check) is decided in that order' -r
complete -c sipsec-encrypt -l max-size -d 'Refuse messages larger than this many bytes' -r
complete -c sipsec-encrypt -l control-key -d 'Per-run secret for the control header between sipsec processes (created, mode 0600, when missing; use a fresh file per run)' -r -F
complete -c sipsec-encrypt -l control-key-fd -d 'Read the control key from this inherited file descriptor' -r
complete -c sipsec-encrypt -l store -d 'Certificate store directory' -r -F
complete -c sipsec-encrypt -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-encrypt -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-encrypt -l form -d 'What goes into the envelope (see below)' -r -f -a "body\t'The body with its Content-Type (e.g. the SDP)'
sip\t'A copy of the whole message as message/sip (RFC 3261 §23.4.3)'"
complete -c sipsec-encrypt -l select -d 'Which messages to encrypt (the grammar of sipsec-sign --select). Default: every message with a body' -r
complete -c sipsec-encrypt -l cipher -d 'Content-encryption algorithm [default: the recipient\'s setting in the store, else the strongest its signatures advertised, else aes128]' -r -f -a "aes128\t''
aes256\t''
aes128gcm\t''
des3\t''"
complete -c sipsec-encrypt -l rsa-padding -d 'RSA key transport padding [default: the recipient\'s setting in the store, else oaep]' -r -f -a "oaep\t''
pkcs1\t''"
complete -c sipsec-encrypt -l recipient-cert -d 'Encrypt every message to this certificate (PEM) instead of looking up its recipient' -r -F
complete -c sipsec-encrypt -l also-to -d 'Also encrypt to this AOR (certificate from the store) or certificate file (repeatable)' -r
complete -c sipsec-encrypt -l hide -d 'With --form sip, move this end-to-end header inside (repeatable)' -r
complete -c sipsec-encrypt -l internal -d 'A header private to this deployment, never copied into an envelope (repeatable)' -r
complete -c sipsec-encrypt -l json -d 'Print the JSON records on stdout instead of the messages'
complete -c sipsec-encrypt -l fail-open -d 'Pass a message the tool cannot handle on unchanged, with a warning'
complete -c sipsec-encrypt -l fail-closed -d 'Withhold a message the tool cannot handle, and record why'
complete -c sipsec-encrypt -l datagram -d 'Each input is one datagram: no Content-Length needed, trailing bytes reported'
complete -c sipsec-encrypt -l keep-control -d 'Keep the control header on output, for a next sipsec filter (needs a control key)'
complete -c sipsec-encrypt -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-encrypt -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-encrypt -l base64 -d 'Base64 Content-Transfer-Encoding instead of binary'
complete -c sipsec-encrypt -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipsec-encrypt -s V -l version -d 'Print version'
