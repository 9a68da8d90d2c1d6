# bench/https.sh — sourced by the import benchmarks: images served as users
# fetch them, over https from a loopback server, signed by a trusted key.
# Needs TMP (a scratch directory of the run) and die() set by the caller.
#
# https_start: a throw-away gpg key (ed25519) in $TMP/gnupg, exported to
# $TMP/key.asc for `acirun trust`; a CA of this run only (openssl) and a
# certificate from it for 127.0.0.1, which acirun trusts as an operator's CA
# would be trusted, through SSL_CERT_FILE (and no other roots, and no
# proxy); python3's http.server (threads, as `python3 -m http.server` runs)
# with its socket wrapped in TLS, serving $TMP/www. Sets SERVER (its PID)
# and HTTPS (https://127.0.0.1:PORT). serve FILE NAME then serves FILE as
# $HTTPS/NAME with its detached signature beside it, and https_stop (for the
# caller's cleanup) ends the server and the key's gpg-agent.

# g: gpg on the run's key ring.
g() { gpg --batch --quiet --homedir "$TMP/gnupg" --passphrase '' --pinentry-mode loopback "$@"; }

https_start() {
	for c in gpg gpgconf openssl python3; do
		command -v $c >/dev/null || die "$c is needed"
	done
	mkdir -m 0700 "$TMP/gnupg" "$TMP/www" "$TMP/ca"
	g --quick-gen-key "acirun bench <bench@example.com>" ed25519 sign never
	g --armor --output "$TMP/key.asc" --export bench@example.com

	o req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=acirun bench CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
		-keyout "$TMP/ca/ca.key" -out "$TMP/ca/ca.pem"
	o req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$TMP/ca/server.key" -out "$TMP/ca/server.csr"
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$TMP/ca/ext"
	o x509 -req -in "$TMP/ca/server.csr" -CA "$TMP/ca/ca.pem" -CAkey "$TMP/ca/ca.key" -CAcreateserial -days 1 \
		-extfile "$TMP/ca/ext" -out "$TMP/ca/server.pem"
	# An empty SSL_CERT_DIR is unset to Go, which would read the system's
	# certificate directory too: a directory that does not exist is none.
	export SSL_CERT_FILE="$TMP/ca/ca.pem" SSL_CERT_DIR="$TMP/ca/no-such-dir"
	unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy

	(cd "$TMP/www" && exec python3 -u -c '
import functools, http.server, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory="."))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("Serving HTTPS on 127.0.0.1 port %d" % srv.server_address[1], flush=True)
srv.serve_forever()
' "$TMP/ca/server.pem" "$TMP/ca/server.key" >"$TMP/server.log" 2>&1) &
	SERVER=$!
	port=
	i=0
	while [ -z "$port" ] && [ $i -lt 100 ]; do
		port=$(sed -n 's/^Serving HTTPS on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$TMP/server.log")
		[ -n "$port" ] || sleep 0.1
		i=$((i + 1))
	done
	[ -n "$port" ] || die "python3's https server did not start: $(cat "$TMP/server.log")"
	HTTPS=https://127.0.0.1:$port
}

# o: openssl, its output kept for the error.
o() { openssl "$@" >"$TMP/ca/log" 2>&1 || die "openssl $1 failed: $(cat "$TMP/ca/log")"; }

# serve FILE NAME: FILE as $HTTPS/NAME, signed.
serve() {
	ln "$1" "$TMP/www/$2" 2>/dev/null || cp "$1" "$TMP/www/$2"
	g --armor --detach-sign --output "$TMP/www/$2.asc" "$TMP/www/$2"
}

# https_requests NAME: how many GET requests of $HTTPS/NAME the server saw.
https_requests() { grep -c "\"GET /$1 HTTP" "$TMP/server.log" || true; }

https_stop() {
	[ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null
	gpgconf --homedir "$TMP/gnupg" --kill all 2>/dev/null || true
}
