#!/usr/bin/env bash
# The CLI over TLS against the real registry binary serving mutual TLS, with
# certificates made here by openssl: `health` and a service command succeed
# with --tls_ca/--tls_cert/--tls_key (or their FIVESTAR_* variables) and
# fail with UNAVAILABLE without them or without a client certificate; a bad
# TLS file is a usage error (exit 2) of the CLI and a configuration error
# (exit 2) of the server, naming the flag.
# Usage: cli_tls_check.sh <build dir>
set -euo pipefail
BUILD_DIR="$(cd "$1" && pwd)"
CLI="$BUILD_DIR/tools/cli/fivestar"
SERVER="$BUILD_DIR/services/registry/fivestar-registry"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fail() { echo "cli_tls_check: $*" >&2; exit 1; }

# A CA, a server certificate for localhost/127.0.0.1 and a client
# certificate, all P-256, with openssl's own configuration kept out.
cat >"$WORK/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
CNF
KEY="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 -config "$WORK/openssl.cnf" -extensions ca $KEY -days 2 \
  -subj /CN=cli-tls-check-ca -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
  >"$WORK/openssl.log" 2>&1 || fail "openssl: $(cat "$WORK/openssl.log")"
for leaf in server client; do
  openssl req -new -config "$WORK/openssl.cnf" $KEY -subj "/CN=$leaf" \
    -keyout "$WORK/$leaf.key" -out "$WORK/$leaf.csr" >"$WORK/openssl.log" 2>&1 &&
    openssl x509 -req -in "$WORK/$leaf.csr" -CA "$WORK/ca.pem" \
      -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
      -extfile "$WORK/openssl.cnf" -extensions "$leaf" -out "$WORK/$leaf.pem" \
      >>"$WORK/openssl.log" 2>&1 || fail "openssl: $(cat "$WORK/openssl.log")"
done

PORT="$(free_port)"
ADDRESS="127.0.0.1:$PORT"
SERVER_FLAGS=(--host=127.0.0.1 --port="$PORT" --metrics_port=-1 --disable_auth
  --database="$WORK/registry.db")
CLIENT_TLS=(--tls_ca="$WORK/ca.pem" --tls_cert="$WORK/client.pem"
  --tls_key="$WORK/client.key")

# A certificate without its key: the server refuses to start.
status=0
"$SERVER" "${SERVER_FLAGS[@]}" --tls_cert="$WORK/server.pem" >"$WORK/bad.log" 2>&1 ||
  status=$?
[[ $status == 2 ]] || fail "--tls_cert alone: want exit 2, got $status"
grep -qF "tls_key: required with --tls_cert" "$WORK/bad.log" ||
  fail "--tls_cert alone: $(cat "$WORK/bad.log")"

"$SERVER" "${SERVER_FLAGS[@]}" --tls_cert="$WORK/server.pem" \
  --tls_key="$WORK/server.key" --tls_client_ca="$WORK/ca.pem" \
  --tls_require_client_cert >"$WORK/registry.log" 2>&1 &
PID=$!
"$CLI" "${CLIENT_TLS[@]}" --deadline=1s health --wait=60s "$ADDRESS" \
  >"$WORK/wait.out" 2>&1 || fail "health over mutual TLS: $(cat "$WORK/wait.out")
$(cat "$WORK/registry.log")"
[[ "$(cat "$WORK/wait.out")" == SERVING ]] || fail "health printed: $(cat "$WORK/wait.out")"
grep -qF "msg=tls mode=mtls_required" "$WORK/registry.log" ||
  fail "no TLS mode in the log: $(cat "$WORK/registry.log")"

# By name too: the certificate names localhost.
"$CLI" "${CLIENT_TLS[@]}" --deadline=5s health "localhost:$PORT" >"$WORK/name.out" 2>&1 ||
  fail "health via localhost: $(cat "$WORK/name.out")"

# A service command uses the same credentials, here from the environment.
FIVESTAR_TLS_CA="$WORK/ca.pem" FIVESTAR_TLS_CERT="$WORK/client.pem" \
  FIVESTAR_TLS_KEY="$WORK/client.key" \
  "$CLI" --registry="$ADDRESS" --deadline=5s list-regions >"$WORK/list.out" 2>&1 ||
  fail "list-regions over mutual TLS: $(cat "$WORK/list.out")"

status=0
"$CLI" --deadline=5s health "$ADDRESS" >"$WORK/plain.out" 2>&1 || status=$?
[[ $status == 1 ]] || fail "plaintext: want exit 1, got $status"
grep -qF "health: UNAVAILABLE" "$WORK/plain.out" || fail "plaintext: $(cat "$WORK/plain.out")"

status=0
"$CLI" --registry="$ADDRESS" --deadline=5s list-regions >"$WORK/plain-list.out" 2>&1 ||
  status=$?
[[ $status == 1 ]] || fail "plaintext list-regions: want exit 1, got $status"
grep -qF "list-regions: UNAVAILABLE" "$WORK/plain-list.out" ||
  fail "plaintext list-regions: $(cat "$WORK/plain-list.out")"

status=0
"$CLI" --tls_ca="$WORK/ca.pem" --deadline=5s health "$ADDRESS" >"$WORK/nocert.out" 2>&1 ||
  status=$?
[[ $status == 1 ]] || fail "no client certificate: want exit 1, got $status"
grep -qF "health: UNAVAILABLE" "$WORK/nocert.out" ||
  fail "no client certificate: $(cat "$WORK/nocert.out")"

status=0
"$CLI" --tls_ca="$WORK/absent.pem" --deadline=5s health "$ADDRESS" >"$WORK/absent.out" 2>&1 ||
  status=$?
[[ $status == 2 ]] || fail "absent --tls_ca: want exit 2, got $status"
grep -qF "tls_ca: cannot read $WORK/absent.pem" "$WORK/absent.out" ||
  fail "absent --tls_ca: $(cat "$WORK/absent.out")"
echo "cli_tls_check: ok"
