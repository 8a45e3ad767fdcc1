package server

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
)

// LoopbackHosts are the Host names a server bound to a loopback address
// answers to; with AllowedHosts set to them, a page on another site whose
// name resolves to 127.0.0.1 (DNS rebinding) is refused.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// securityHeaders are set on every response, errors included: no framing
// (clickjacking), no MIME sniffing, no referrer, and only the server's own
// scripts, styles and images (plus data:/blob: images for upload previews).
var securityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
	{"X-Frame-Options", "DENY"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
}

// hostName is the name part of a Host header, lower case, without port,
// brackets or a final dot: "LocalHost.:8080" -> "localhost",
// "[::1]:80" -> "::1".
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// hostAllowed reports whether r's Host header names one of allowed.
func hostAllowed(r *http.Request, allowed []string) bool {
	return slices.Contains(allowed, hostName(r.Host))
}

// normalizeHosts lower-cases the allowed names and strips ports, brackets
// and final dots, as hostName does for requests.
func normalizeHosts(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if n := hostName(strings.TrimSpace(h)); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// CheckHostName validates a name given to --allowed-host: a DNS name or an
// IP address, without scheme, path or port.
func CheckHostName(name string) error {
	n := strings.TrimSpace(name)
	if n == "" {
		return fmt.Errorf("empty host name")
	}
	if strings.ContainsAny(n, "/:@ ") && net.ParseIP(strings.Trim(n, "[]")) == nil {
		return fmt.Errorf("%q is not a host name: give the name only, e.g. movies.example.org (no scheme, port or path)", name)
	}
	return nil
}

// route is one endpoint: its path pattern, the methods it answers (GET
// implies HEAD) and its handler.
type route struct {
	pattern string
	methods []string
	handle  http.HandlerFunc
}

// only answers 405 with an Allow header to methods the route does not
// take.
func only(rt route) http.HandlerFunc {
	allow := slices.Clone(rt.methods)
	if slices.Contains(allow, http.MethodGet) && !slices.Contains(allow, http.MethodHead) {
		allow = append(allow, http.MethodHead)
	}
	allowHeader := strings.Join(allow, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(allow, r.Method) {
			w.Header().Set("Allow", allowHeader)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s: use %s", r.Method, r.URL.Path, allowHeader))
			return
		}
		rt.handle(w, r)
	}
}
