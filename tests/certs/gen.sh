#!/usr/bin/env bash
# tests/certs/gen.sh — test PKI for the TLS tests and benchmarks (ECDSA P-256 throughout).
#
# Usage: tests/certs/gen.sh OUTDIR
#
#   ca.pem ca.key                  "Wisp Test CA", the trusted root
#   server.pem server.key          leaf for localhost (SAN DNS:localhost, IP:127.0.0.1, IP:::1)
#   other.pem other.key            leaf for other.test only (name mismatch)
#   expired.pem expired.key        leaf for localhost, valid 2020-01-01..2020-01-02 only
#   future.pem future.key          leaf for localhost, valid from 2099-01-01 only
#   client.pem client.key          client certificate (EKU clientAuth) for mTLS
#   untrusted-ca.pem untrusted-ca.key   "Wisp Untrusted CA", a second root nobody trusts
#   untrusted.pem untrusted.key    leaf for localhost issued by the untrusted root
#   selfsigned.pem selfsigned.key  self-signed leaf for localhost
#
# Idempotent: when OUTDIR already holds a complete set made by this version of the script,
# nothing is regenerated. Needs only the openssl command line tool.
set -euo pipefail

GEN_VERSION=1
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
command -v openssl >/dev/null || { echo "gen.sh: openssl not found (scripts/setup.sh installs it)" >&2; exit 1; }
OUT=$1
FILES=(ca server other expired future client untrusted-ca untrusted selfsigned)

complete() {
  [ "$(cat "$OUT/.gen-version" 2>/dev/null)" = "$GEN_VERSION" ] || return 1
  for f in "${FILES[@]}"; do [ -s "$OUT/$f.pem" ] && [ -s "$OUT/$f.key" ] || return 1; done
}
mkdir -p "$OUT"
complete && exit 0

WORK=$(mktemp -d "$OUT/.gen.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

# A root CA: self-signed, CA:TRUE.
root() { # name subject
  key "$1"
  openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 -sha256 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# A leaf: name subject issuer eku san [startdate enddate]
# Dates go through `openssl ca`, the only OpenSSL 3.0 tool that takes explicit validity dates.
leaf() {
  local name=$1 subj=$2 issuer=$3 eku=$4 san=$5 start=${6:-} end=${7:-}
  key "$name"
  openssl req -new -key "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    echo "authorityKeyIdentifier=keyid"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$name.ext"
  if [ -z "$start" ]; then
    openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
      -out "$name.pem" -days 3650 -sha256 -extfile "$name.ext" 2>/dev/null
  else
    mkdir -p "ca-$name"
    : > "ca-$name/index.txt"
    openssl rand -hex 16 > "ca-$name/serial"
    cat > "ca-$name/ca.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
dir = ca-$name
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $issuer.pem
private_key = $issuer.key
default_md = sha256
policy = anything
unique_subject = no
[ anything ]
commonName = supplied
EOF
    openssl ca -batch -notext -config "ca-$name/ca.cnf" -in "$name.csr" -out "$name.pem" \
      -startdate "$start" -enddate "$end" -extfile "$name.ext" 2>/dev/null
  fi
}

LOCAL_SAN="DNS:localhost,IP:127.0.0.1,IP:::1"
root ca "/CN=Wisp Test CA"
root untrusted-ca "/CN=Wisp Untrusted CA"
leaf server "/CN=localhost" ca serverAuth "$LOCAL_SAN"
leaf other "/CN=other.test" ca serverAuth "DNS:other.test"
leaf expired "/CN=localhost" ca serverAuth "$LOCAL_SAN" 20200101000000Z 20200102000000Z
leaf future "/CN=localhost" ca serverAuth "$LOCAL_SAN" 20990101000000Z 20991231000000Z
leaf client "/CN=wisp-client" ca clientAuth ""
leaf untrusted "/CN=localhost" untrusted-ca serverAuth "$LOCAL_SAN"
key selfsigned
openssl req -new -x509 -key selfsigned.key -out selfsigned.pem -days 3650 -sha256 \
  -subj "/CN=localhost" -addext "subjectAltName=$LOCAL_SAN" \
  -addext "basicConstraints=critical,CA:FALSE" 2>/dev/null

for f in "${FILES[@]}"; do
  [ -s "$f.pem" ] && [ -s "$f.key" ] || { echo "gen.sh: failed to make $f" >&2; exit 1; }
  chmod 0644 "$f.pem"; chmod 0600 "$f.key"
  mv -f "$f.pem" "$f.key" "$OUT/"
done
echo "$GEN_VERSION" > "$OUT/.gen-version"
