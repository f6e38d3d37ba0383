# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sipsec_certgen_global_optspecs
    string join \n q/quiet v/verbose store= passphrase-file= passphrase-env= h/help V/version
end

function __fish_sipsec_certgen_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sipsec_certgen_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sipsec_certgen_using_subcommand
    set -l cmd (__fish_sipsec_certgen_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -l store -d 'Certificate store directory' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -s V -l version -d 'Print version'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "init-ca" -d 'Create the store (if missing) and a self-signed root CA, trusted by the store'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "init-intermediate" -d 'Create the issuing intermediate CA, name-constrained to the given domains'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "issue" -d 'Issue a certificate for a SIP URI from the store\'s issuing CA (made by init-intermediate, or init-ca --issuing); self-signed with --self-signed, or in a store that has no CA at all'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "issue-tls" -d 'Issue the TLS certificate of the proxy\'s own host (for `sipsec-relay --tls-identity`): DNS:HOST and IP: names, server and client authentication, stored in tls/HOST/'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "sti" -d 'Issue an STI certificate (RFC 8226: P-256, TNAuthList) for an identity or group with the store\'s CA, for sipsec-sign --identity. Publish the chain (--chain-out) at --x5u'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "sti-csr" -d 'Make a P-256 key and a CSR with a TNAuthList for an outside STI-CA; the CSR goes to --out or stdout. Bring the certificate back with `sti-import`'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "sti-import" -d 'Import the STI certificate an outside STI-CA returned for `sti-csr` (extra certificates in FILE become the chain)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "csr" -d 'Make a key and a CSR for a SIP URI, for an outside CA; the CSR goes to --out or stdout'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "import-cert" -d 'Import a certificate an outside CA returned (or one with --key): must match the key and name the URI. Extra certificates in FILE become the chain'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "sign-csr" -d 'Sign a CSR with the store\'s issuing CA; the certificate goes to --out or stdout'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "export-p12" -d 'Export an identity\'s key, certificate and chain as PKCS#12'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "import-p12" -d 'Import a PKCS#12 file as an own identity'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "revoke" -d 'Revoke a certificate (by URI of an own identity, or --serial) and publish the CRL'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "crl" -d 'Publish the CRL of the issuing CA (crl/issuing-ca.pem; also to --out)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "rotate" -d 'Replace an identity\'s key and certificate; the old certificate is kept for verification'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "group" -d 'Define and list groups'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "member" -d 'Members who authenticate to the relay with SIP digest: their HA1 per algorithm in the credentials file (never the password)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "list" -d 'List identities, learned certificates, groups and CAs'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "show" -d 'Show a certificate: an own or learned identity by URI, or a PEM file'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "anchor" -d 'Manage trust anchors (anchor add makes the store when it is missing)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "peer" -d 'Remember how to encrypt to a peer that cannot take the defaults (sipsec-encrypt follows it when not given --cipher or --rsa-padding), and print what the store keeps about the peer, with the ciphers its signatures advertised'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "config" -d 'Change store settings (on-demand issuance, own domains) and print them'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -l cn -d 'Common name of the CA' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -l key-type -d 'Key type of the root CA' -r -f -a "rsa2048\t''
rsa3072\t''
rsa4096\t''
p256\t''
p384\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -l days -d 'Validity of the root CA in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -l issuing -d 'Use the root directly as the issuing CA (no intermediate)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-ca" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -l domain -d 'A domain the proxy serves (repeat for more)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -l cn -d 'Common name of the issuing CA' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -l key-type -d 'Key type of the issuing CA' -r -f -a "rsa2048\t''
rsa3072\t''
rsa4096\t''
p256\t''
p384\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -l days -d 'Validity of the issuing CA in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -l uri-constraints -d 'Also constrain URI names to the domains. OpenSSL cannot match a sip: URI against a URI constraint and then refuses every sip: leaf this CA issues, so leave it out unless every verifier checks the constraints itself (sipsec-verify holds sip: URIs against the DNS constraints without it)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand init-intermediate" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -l key-type -d 'Key type (RSA-2048 for RFC 3853 interop; P-256 for the RFC 8591 profile)' -r -f -a "rsa2048\t''
rsa3072\t''
rsa4096\t''
p256\t''
p384\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -l days -d 'Validity in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -l im-pres -d 'Also name the `im:` and `pres:` forms of the URI'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -l domain-cert -d 'A domain certificate (`sip:domain`): adds DNS:domain and id-kp-sipDomain'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -l self-signed -d 'Self-signed even when the store has a CA'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -l host -d 'The proxy\'s host name' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -l ip -d 'An address the proxy is also reached by (repeatable)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -l key-type -d 'Key type (RSA-2048 for RFC 3853 interop; P-256 for the RFC 8591 profile)' -r -f -a "rsa2048\t''
rsa3072\t''
rsa4096\t''
p256\t''
p384\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -l days -d 'Validity in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -l replace -d 'Replace an existing TLS certificate for the host'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand issue-tls" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -l tn -d 'A telephone number it may sign for, a range `START+COUNT` (12155550100+100), or a service provider code `spc:CODE` (repeatable)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -l x5u -d 'The https URL where verifiers fetch the certificate chain (the PASSporT\'s x5u)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -l days -d 'How long the certificate is valid, in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -l chain-out -d 'Also write the chain verifiers fetch from the x5u URL (signer first) to FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -l x5u-cache -d 'Also put the chain in this x5u cache directory (sipsec-verify --x5u-cache), valid as long as the certificate' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -l replace -d 'Replace an existing STI certificate'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-csr" -l tn -d 'A telephone number it may sign for, a range `START+COUNT` (12155550100+100), or a service provider code `spc:CODE` (repeatable)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-csr" -l x5u -d 'The https URL where verifiers fetch the certificate chain (the PASSporT\'s x5u)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-csr" -l out -d 'Where to write the CSR (PEM); stdout when absent' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-csr" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-csr" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-csr" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-csr" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-csr" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-import" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-import" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-import" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-import" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sti-import" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -l key-type -d 'Key type (RSA-2048 for RFC 3853 interop; P-256 for the RFC 8591 profile)' -r -f -a "rsa2048\t''
rsa3072\t''
rsa4096\t''
p256\t''
p384\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -l days -d 'Validity in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -l out -d 'Write the CSR (PEM) here instead of stdout' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -l im-pres -d 'Also name the `im:` and `pres:` forms of the URI'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -l domain-cert -d 'A domain certificate (`sip:domain`): adds DNS:domain and id-kp-sipDomain'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand csr" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-cert" -l uri -d 'The URI (default: the certificate\'s first SIP URI)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-cert" -l key -d 'The private key, when it is not already in the store' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-cert" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-cert" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-cert" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-cert" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-cert" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -l uri -d 'The URI to certify (default: the CSR\'s subject CN)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -l days -d 'Validity in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -l out -d 'Write the certificate (PEM) here instead of stdout' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -l im-pres -d 'Also name the `im:` and `pres:` forms of the URI'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -l domain-cert -d 'A domain certificate (`sip:domain`): adds DNS:domain and id-kp-sipDomain'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand sign-csr" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -l out -d 'The PKCS#12 file to write (mode 0600)' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -l p12-pass-file -d 'Read the PKCS#12 passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -l p12-pass-env -d 'Read the PKCS#12 passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -l legacy -d '3DES/SHA-1 encryption for old importers (default: PBES2/AES-256, SHA-256 MAC)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand export-p12" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-p12" -l uri -d 'The URI (default: the certificate\'s first SIP URI)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-p12" -l p12-pass-file -d 'Read the PKCS#12 passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-p12" -l p12-pass-env -d 'Read the PKCS#12 passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-p12" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-p12" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-p12" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-p12" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand import-p12" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand revoke" -l serial -d 'The serial number (hex) of the certificate to revoke, e.g. one the store no longer holds' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand revoke" -l crl-days -d 'Validity of the published CRL in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand revoke" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand revoke" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand revoke" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand revoke" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand revoke" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand crl" -l days -d 'Validity of the CRL in days (its nextUpdate)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand crl" -l out -d 'Also write the CRL (PEM) here' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand crl" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand crl" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand crl" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand crl" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand crl" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -l key-type -d 'Key type (RSA-2048 for RFC 3853 interop; P-256 for the RFC 8591 profile)' -r -f -a "rsa2048\t''
rsa3072\t''
rsa4096\t''
p256\t''
p384\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -l days -d 'Validity in days' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -l im-pres -d 'Also name the `im:` and `pres:` forms of the URI'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -l domain-cert -d 'A domain certificate (`sip:domain`): adds DNS:domain and id-kp-sipDomain'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand rotate" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and not __fish_seen_subcommand_from add list help" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and not __fish_seen_subcommand_from add list help" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and not __fish_seen_subcommand_from add list help" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and not __fish_seen_subcommand_from add list help" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and not __fish_seen_subcommand_from add list help" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and not __fish_seen_subcommand_from add list help" -f -a "add" -d 'Map members (exact AORs or `*` patterns) to a group identity'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and not __fish_seen_subcommand_from add list help" -f -a "list" -d 'List the group map'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and not __fish_seen_subcommand_from add list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from add" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from add" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from list" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from list" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "add" -d 'Map members (exact AORs or `*` patterns) to a group identity'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the group map'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -f -a "add" -d 'Add a member or change its password (read from the terminal or the first line of stdin)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -f -a "remove" -d 'Remove a member'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -f -a "list" -d 'List the members and their algorithms (never their secrets)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and not __fish_seen_subcommand_from add remove list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from add" -l algorithm -d 'The digest algorithms the member may use (repeatable). Leaving MD5 out keeps an attacker who strips the SHA-256 challenge from downgrading the member\'s clients' -r -f -a "sha-256\t''
md5\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from add" -l credentials -d 'The credentials file (default: STORE/credentials)' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from add" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from add" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from remove" -l credentials -d 'The credentials file (default: STORE/credentials)' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from remove" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from remove" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from list" -l credentials -d 'The credentials file (default: STORE/credentials)' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from list" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from list" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from list" -l json -d 'One JSON object per line'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a member or change its password (read from the terminal or the first line of stdin)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a member'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the members and their algorithms (never their secrets)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand member; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand list" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand list" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand list" -l json -d 'One JSON object per line'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand list" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand list" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand list" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand show" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand show" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand show" -l json -d 'One JSON object on one line'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand show" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand show" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand show" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and not __fish_seen_subcommand_from add help" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and not __fish_seen_subcommand_from add help" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and not __fish_seen_subcommand_from add help" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and not __fish_seen_subcommand_from add help" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and not __fish_seen_subcommand_from add help" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and not __fish_seen_subcommand_from add help" -f -a "add" -d 'Trust the CA certificates in FILE'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and not __fish_seen_subcommand_from add help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and __fish_seen_subcommand_from add" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and __fish_seen_subcommand_from add" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and __fish_seen_subcommand_from help" -f -a "add" -d 'Trust the CA certificates in FILE'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand anchor; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand peer" -l cipher -d 'The content cipher to use for this peer' -r -f -a "aes128\t''
aes256\t''
aes128gcm\t''
des3\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand peer" -l rsa-padding -d 'The RSA key-transport padding to use for this peer (pkcs1 for peers without OAEP)' -r -f -a "oaep\t''
pkcs1\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand peer" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand peer" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand peer" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand peer" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand peer" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -l on-demand -d 'Whether sipsec-sign may make a missing certificate for an attributed member\'s group (with the issuing CA)' -r -f -a "yes\t''
no\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -l add-domain -d 'Add a domain the store issues and makes certificates for (repeatable)' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -l key-type -d 'Key type of certificates made on demand' -r -f -a "rsa2048\t''
rsa3072\t''
rsa4096\t''
p256\t''
p384\t''"
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -l days -d 'Validity in days of certificates made on demand' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -l passphrase-file -d 'Read the key passphrase from the first line of FILE' -r -F
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -l passphrase-env -d 'Read the key passphrase from environment variable NAME' -r
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -s q -l quiet -d 'Print nothing but fatal errors'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -s v -l verbose -d 'Also print a summary at the end (repeat for more)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand config" -s h -l help -d 'Print help'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "init-ca" -d 'Create the store (if missing) and a self-signed root CA, trusted by the store'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "init-intermediate" -d 'Create the issuing intermediate CA, name-constrained to the given domains'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "issue" -d 'Issue a certificate for a SIP URI from the store\'s issuing CA (made by init-intermediate, or init-ca --issuing); self-signed with --self-signed, or in a store that has no CA at all'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "issue-tls" -d 'Issue the TLS certificate of the proxy\'s own host (for `sipsec-relay --tls-identity`): DNS:HOST and IP: names, server and client authentication, stored in tls/HOST/'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "sti" -d 'Issue an STI certificate (RFC 8226: P-256, TNAuthList) for an identity or group with the store\'s CA, for sipsec-sign --identity. Publish the chain (--chain-out) at --x5u'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "sti-csr" -d 'Make a P-256 key and a CSR with a TNAuthList for an outside STI-CA; the CSR goes to --out or stdout. Bring the certificate back with `sti-import`'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "sti-import" -d 'Import the STI certificate an outside STI-CA returned for `sti-csr` (extra certificates in FILE become the chain)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "csr" -d 'Make a key and a CSR for a SIP URI, for an outside CA; the CSR goes to --out or stdout'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "import-cert" -d 'Import a certificate an outside CA returned (or one with --key): must match the key and name the URI. Extra certificates in FILE become the chain'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "sign-csr" -d 'Sign a CSR with the store\'s issuing CA; the certificate goes to --out or stdout'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "export-p12" -d 'Export an identity\'s key, certificate and chain as PKCS#12'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "import-p12" -d 'Import a PKCS#12 file as an own identity'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "revoke" -d 'Revoke a certificate (by URI of an own identity, or --serial) and publish the CRL'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "crl" -d 'Publish the CRL of the issuing CA (crl/issuing-ca.pem; also to --out)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "rotate" -d 'Replace an identity\'s key and certificate; the old certificate is kept for verification'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "group" -d 'Define and list groups'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "member" -d 'Members who authenticate to the relay with SIP digest: their HA1 per algorithm in the credentials file (never the password)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "list" -d 'List identities, learned certificates, groups and CAs'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "show" -d 'Show a certificate: an own or learned identity by URI, or a PEM file'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "anchor" -d 'Manage trust anchors (anchor add makes the store when it is missing)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "peer" -d 'Remember how to encrypt to a peer that cannot take the defaults (sipsec-encrypt follows it when not given --cipher or --rsa-padding), and print what the store keeps about the peer, with the ciphers its signatures advertised'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "config" -d 'Change store settings (on-demand issuance, own domains) and print them'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and not __fish_seen_subcommand_from init-ca init-intermediate issue issue-tls sti sti-csr sti-import csr import-cert sign-csr export-p12 import-p12 revoke crl rotate group member list show anchor peer config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "add" -d 'Map members (exact AORs or `*` patterns) to a group identity'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "list" -d 'List the group map'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "add" -d 'Add a member or change its password (read from the terminal or the first line of stdin)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "remove" -d 'Remove a member'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and __fish_seen_subcommand_from member" -f -a "list" -d 'List the members and their algorithms (never their secrets)'
complete -c sipsec-certgen -n "__fish_sipsec_certgen_using_subcommand help; and __fish_seen_subcommand_from anchor" -f -a "add" -d 'Trust the CA certificates in FILE'
