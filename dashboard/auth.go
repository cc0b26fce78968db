package dashboard

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// TokenCookie is the cookie that carries the operator's token after the login form.
const TokenCookie = "ordersync_token"

// OperatorOnly lets a request through with the operator's token, as a bearer token or the
// cookie the login form sets. Without a token configured, only a listener on the loopback
// interface lets requests through: anyone who can reach another address would otherwise
// see revenue and could cancel, retry and delete jobs. A configured token is required on
// every address, loopback included.
//
// A browser turned away gets the login form (when a token could open the page) with
// status 401; other clients get the reason as text.
func OperatorOnly(token string, loopback bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case token == "" && loopback:
			next.ServeHTTP(w, r)
		case token == "":
			deny(w, r, "set DASHBOARD_TOKEN to open this page on a non-loopback address", false)
		case HasToken(r, token):
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="ordersync"`)
			deny(w, r, "this page needs the operator's token (DASHBOARD_TOKEN)", true)
		}
	})
}

// HasToken reports whether r carries token as "Authorization: Bearer" or in TokenCookie.
// The comparison takes the same time wherever the strings differ.
func HasToken(r *http.Request, token string) bool {
	got := ""
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		got = strings.TrimPrefix(a, "Bearer ")
	} else if c, err := r.Cookie(TokenCookie); err == nil {
		got = c.Value
	}
	return token != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// IsLoopback reports whether a listener's address is on the loopback interface only. An
// unspecified address (0.0.0.0, ::) listens on every interface: not loopback.
func IsLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// deny answers 401: the login form for a browser's page load, the reason as text for
// anything else (scripts, River UI's API calls).
func deny(w http.ResponseWriter, r *http.Request, reason string, canLogin bool) {
	if r.Method != http.MethodGet || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Error(w, reason, http.StatusUnauthorized)
		return
	}
	renderLogin(w, http.StatusUnauthorized, loginPage{Reason: reason, CanLogin: canLogin, Next: r.URL.RequestURI()})
}

// login checks the token posted by the login form and, when it is the operator's, sets
// the cookie and sends the browser back where it was going. The cookie is HttpOnly (no
// script reads it) and SameSite=Strict (no other site's page or link sends it), and Secure
// when the request came over TLS.
func (d *dash) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad login form", http.StatusBadRequest)
		return
	}
	next := localPath(r.PostForm.Get("next"))
	switch {
	case d.opts.Token == "" && d.opts.Loopback:
		http.Redirect(w, r, next, http.StatusSeeOther) // nothing to log in to
		return
	case d.opts.Token == "":
		renderLogin(w, http.StatusUnauthorized, loginPage{Reason: "set DASHBOARD_TOKEN to open this page on a non-loopback address"})
		return
	case subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(d.opts.Token)) != 1:
		renderLogin(w, http.StatusUnauthorized, loginPage{Reason: "that is not the operator's token", CanLogin: true, Next: next})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: TokenCookie, Value: d.opts.Token, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout removes the cookie.
func (d *dash) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: TokenCookie, Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// localPath returns p when it is a path on this server, and "/" otherwise: the login form
// must not send the browser to another site ("//host" and "/\host" are other sites).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}
