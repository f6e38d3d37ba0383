complete -c sipsec-relay -l credentials -d 'The members\' digest credentials (made by `sipsec-certgen member add`). With it, every request whose From (REGISTER: To) is in one of the relay\'s --domain is challenged (401 for REGISTER, 407 otherwise) and goes on only once its member authenticated. The file is re-read when it changes; it must be mode 0600 and owned by the relay\'s user' -r -F
complete -c sipsec-relay -l digest-algorithm -d 'The digest algorithms offered, in order of preference (repeatable; default SHA-256 then MD5, one challenge each with the same nonce). Clients that read only the first challenge and know only MD5 (SIPp 3.6, many older phones) need MD5 first' -r -f -a "sha-256\t''
md5\t''"
complete -c sipsec-relay -l nonce-lifetime -d 'How long a nonce is good for; an older one is answered `stale=true` (seconds)' -r
complete -c sipsec-relay -l outbound -d 'The filter chain for messages from authenticated members, e.g. \'sipsec-sign --store DIR | sipsec-encrypt --store DIR\'. sipsec\'s own tools, named by their bare name, run inside the relay; any other command runs as a long-lived child reading and writing the framed stream (one message out for each in)' -r
complete -c sipsec-relay -l inbound -d 'The filter chain for other messages towards the relay\'s terminals (requests routed to a registered contact or, in a dialog the relay record-routed, to the Request-URI; and responses), e.g. \'sipsec-decrypt --store DIR | sipsec-verify --store DIR --unwrap\'. Marks that arrive from the network are removed before it runs' -r
complete -c sipsec-relay -l chain-timeout -d 'How long a child of a chain may take over one message before it is killed and restarted (milliseconds); the message follows the stage\'s fail mode' -r
complete -c sipsec-relay -l chain-queue -d 'Messages waiting for a chain at most; past it a message follows the fail mode at once' -r
complete -c sipsec-relay -l audit-log -d 'Append one JSON line per signature made as a group for a member (who, how attributed, which message, when) to FILE (mode 0600). Needs sipsec-sign in process in --outbound (by its bare name): a child gives back only the message, not what it signed as' -r -F
complete -c sipsec-relay -l config -d 'Read options from this file first (see below)' -r -F
complete -c sipsec-relay -l listen -d 'Listen here: `udp:127.0.0.1:5060`, `tcp:[::1]:5060`, `tls:0.0.0.0:5061` (repeatable). In --stdio mode these are the relay\'s own addresses (Via, Record-Route), not bound' -r
complete -c sipsec-relay -l advertise -d 'The address peers reach the relay by, named in its Via and Record-Route instead of the listen address: one per address family (behind NAT, or to choose one address of a wildcard listener). Without it a wildcard listener (0.0.0.0, ::) names the address the system sends from towards each next hop' -r
complete -c sipsec-relay -l domain -d 'A domain this relay is registrar and location service for (repeatable)' -r
complete -c sipsec-relay -l alias -d 'Another host name that names this relay in Route and Request-URI (repeatable)' -r
complete -c sipsec-relay -l route -d 'Requests for DOMAIN go to this next hop (repeatable)' -r
complete -c sipsec-relay -l key-file -d 'The relay\'s secret key: a file of at least 16 random bytes (`head -c 32 /dev/urandom`), mode 0600. It keys the branches and the Record-Route MAC, so that dialogs outlive a restart and relays sharing it accept each other\'s Record-Route. Default: a key drawn at random per process (a fixed one in --stdio mode). SIGHUP reads it again: a new key makes new branches and Record-Routes, and the one it replaces is still accepted until the next change (rotate keys further apart than the longest dialog and transaction)' -r -F
complete -c sipsec-relay -l min-expires -d 'Registrations shorter than this are refused with 423 (seconds)' -r
complete -c sipsec-relay -l max-expires -d 'Registrations are granted at most this long, and this long when no expiry is asked' -r
complete -c sipsec-relay -l max-bindings -d 'Bindings one address-of-record may have; a REGISTER past it gets 403' -r
complete -c sipsec-relay -l max-aors -d 'Addresses-of-record the registrar holds in all; a REGISTER for a new one past it gets 403' -r
complete -c sipsec-relay -l idle-timeout -d 'Close TCP and TLS connections idle this long (seconds)' -r
complete -c sipsec-relay -l max-connections -d 'Accept at most this many TCP and TLS connections at once (and open at most as many)' -r
complete -c sipsec-relay -l max-connections-per-source -d 'Accept at most this many connections at once from one source address (an IPv6 /64 counts as one source, here and for the rate limits)' -r
complete -c sipsec-relay -l write-queue-bytes -d 'Close a connection whose unsent messages pass this many bytes (a peer that does not read)' -r
complete -c sipsec-relay -l write-timeout -d 'Close a connection on which a write makes no progress this long (seconds)' -r
complete -c sipsec-relay -l handshake-timeout -d 'TCP connect plus TLS handshake must finish within this (seconds, from the start)' -r
complete -c sipsec-relay -l request-rate -d 'Requests a second accepted from one source address, twice that in a burst (0: no limit). Past it: dropped over UDP (the source may be forged), 503 with Retry-After over TCP and TLS. The next hops of --route are exempt' -r
complete -c sipsec-relay -l bad-input-rate -d 'Unparsable messages and forged responses a second from one source address (0: no limit); past it they are dropped without the 400' -r
complete -c sipsec-relay -l buffer-budget -d 'Bytes of unfinished messages held across all connections, and bytes queued for writing across all connections, each at most this. Past the first, a connection holding more than a read\'s worth of an unfinished message is closed; past the second, messages are not queued (both counted as budget_refusals)' -r
complete -c sipsec-relay -l drain-timeout -d 'On SIGTERM, queued messages may take this long to go out (seconds)' -r
complete -c sipsec-relay -l max-size -d 'Refuse messages larger than this' -r
complete -c sipsec-relay -l tls-cert -d 'TLS: our certificate chain (PEM, leaf first)' -r -F
complete -c sipsec-relay -l tls-key -d 'TLS: our private key (PEM file; never given on the command line itself)' -r -F
complete -c sipsec-relay -l tls-ca -d 'TLS: trust anchors (PEM) a next hop\'s certificate must chain to, or `system` for the system\'s CAs (default: the --store\'s anchors; without a store, no TLS next hop is trusted). Enough for TLS next hops; a certificate of the relay\'s own is needed only to listen on TLS. The next hop\'s certificate must also name the SIP domain that selected it (RFC 5922: subjectAltName DNS or `sip:` URI, no wildcards, never the CN), or its IP address when it was reached by one (an IP-literal Request-URI or --route)' -r -F
complete -c sipsec-relay -l tls-identity -d 'TLS: our certificate, key and chain from the --store, as made by `sipsec-certgen issue-tls --host HOST`' -r
complete -c sipsec-relay -l store -d 'The certificate store (for --tls-identity and its trust anchors)' -r -F
complete -c sipsec-relay -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-relay -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-relay -l status-file -d 'SIGUSR1 writes the counters to this file instead of stderr' -r -F
complete -c sipsec-relay -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-relay -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-relay -l attribute-udp-responses -d 'Also attribute responses that come from the UDP address a member registered from. A UDP source address can be forged by anyone: use this only where spoofing is ruled out (members on a network that filters forged sources). Without it only responses over the TCP or TLS connection a member registered over are the member\'s'
complete -c sipsec-relay -l open-relay -d 'Forward any request wherever its Route or Request-URI points. Without it only requests for the --domain domains, along a --route, or in a dialog the relay record-routed are forwarded; others get 403'
complete -c sipsec-relay -l stdio -d 'Run the routing core over NDJSON on stdin/stdout instead of sockets'
complete -c sipsec-relay -l check-config -d 'Check the configuration (options, TLS files, store and key passphrase) without binding, print what would run, and exit: 0 usable, 2 a wrong option, 3 a file that cannot be used'
complete -c sipsec-relay -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipsec-relay -s V -l version -d 'Print version'
