#!/bin/sh
# Regenerates testdata/bc/: a small test PKI made with the openssl CLI (a root, an RSA-2048 and a
# P-256 user certificate, valid 100 years; the keys are test keys, public on purpose) and the
# SignedData and (Auth)EnvelopedData that Bouncy Castle makes with it through
# tests/interop/CmsCheck.java. Needs the JDK and libbcpkix-java (scripts/setup.sh --peers).
# The CMS files differ on every run (random keys, signing times); tests/interop_bc.rs only
# needs them to verify and open.
set -eu
out=${1:-testdata/bc}
jars=/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/ext.cnf" <<'EOF'
[root]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[user]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement
extendedKeyUsage=emailProtection
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/root.key" -out "$out/root.pem" \
    -subj "/CN=sipsec BC fixtures root" -days 36500 -config "$work/ext.cnf" -extensions root \
    2>/dev/null
user() { # NAME KEY-ALGORITHM-OPTIONS... 
    name=$1
    shift
    openssl req -newkey "$@" -nodes -keyout "$out/$name.key" -out "$work/$name.csr" \
        -subj "/CN=$name@example.net" 2>/dev/null
    openssl x509 -req -in "$work/$name.csr" -CA "$out/root.pem" -CAkey "$work/root.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 36500 -extfile "$work/ext.cnf" \
        -extensions user -out "$out/$name.pem" 2>/dev/null
    chmod 600 "$out/$name.key"
}
user rsa rsa:2048
user p256 ec -pkeyopt ec_paramgen_curve:P-256
printf 'Content-Type: application/sdp\r\n\r\nv=0\r\no=bc 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n' >"$out/content.bin"

javac -nowarn -d "$work" -cp "$jars" tests/interop/CmsCheck.java
tab=$(printf '\t')
{
    for key in rsa p256; do
        for mode in detached attached; do
            for enc in der ber; do
                echo "sign${tab}$out/content.bin${tab}$out/$key.pem${tab}$out/$key.key${tab}-${tab}sha256${tab}$mode${tab}$enc${tab}certs${tab}attrs${tab}$out/signed-$key-$mode-$enc.p7"
            done
        done
        # As the other SIP S/MIME stack sends them: no certificates, no signed attributes.
        echo "sign${tab}$out/content.bin${tab}$out/$key.pem${tab}$out/$key.key${tab}-${tab}sha256${tab}detached${tab}der${tab}nocerts${tab}noattrs${tab}$out/signed-$key-detached-der-nocerts-noattrs.p7"
    done
    for t in oaep pkcs1; do
        for enc in der ber; do
            echo "encrypt${tab}$out/content.bin${tab}$out/rsa.pem${tab}aes128${tab}$t${tab}$enc${tab}$out/enveloped-rsa-$t-aes128-$enc.p7"
        done
        echo "encrypt${tab}$out/content.bin${tab}$out/rsa.pem${tab}aes128gcm${tab}$t${tab}der${tab}$out/enveloped-rsa-$t-aes128gcm-der.p7"
    done
    echo "encrypt${tab}$out/content.bin${tab}$out/rsa.pem${tab}des3${tab}pkcs1${tab}der${tab}$out/enveloped-rsa-pkcs1-des3-der.p7"
    for enc in der ber; do
        echo "encrypt${tab}$out/content.bin${tab}$out/p256.pem${tab}aes256${tab}ecdh${tab}$enc${tab}$out/enveloped-p256-ecdh-aes256-$enc.p7"
    done
    echo "encrypt${tab}$out/content.bin${tab}$out/p256.pem${tab}aes128gcm${tab}ecdh${tab}der${tab}$out/enveloped-p256-ecdh-aes128gcm-der.p7"
} | java -cp "$work:$jars" CmsCheck | grep -v '^OK ' && exit 1
ls "$out"
