package dashboard

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestYuan(t *testing.T) {
	t.Parallel()
	for fen, want := range map[int64]string{
		0: "0.00", 5: "0.05", 100: "1.00", 123456: "1,234.56", -5: "-0.05", -123456789: "-1,234,567.89",
		100000: "1,000.00", 99999999: "999,999.99",
		math.MaxInt64: "92,233,720,368,547,758.07", math.MinInt64: "-92,233,720,368,547,758.08",
	} {
		if got := Yuan(fen); got != want {
			t.Errorf("Yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

func TestParseRange(t *testing.T) {
	t.Parallel()
	// 23:30 UTC is the next morning in Shanghai: the days are Shanghai's.
	now := time.Date(2026, 3, 9, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		query, from, to, err string
	}{
		{"", "2026-02-25", "2026-03-10", ""},
		{"to=2026-01-31", "2026-01-18", "2026-01-31", ""},
		{"from=2026-03-01", "2026-03-01", "2026-03-10", ""},
		{"from=2025-03-10&to=2026-03-10", "2025-03-10", "2026-03-10", ""}, // 366 days
		{"from=2025-03-09&to=2026-03-10", "2026-02-25", "2026-03-10", "more than 366 days"},
		{"from=2026-03-05&to=2026-03-01", "2026-02-25", "2026-03-10", "after"},
		{"from=yesterday", "2026-02-25", "2026-03-10", "not a day"},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		first, last, err := parseRange(q, now)
		got := first.Format(time.DateOnly) + " " + last.Format(time.DateOnly)
		if got != tt.from+" "+tt.to || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%q: %s, %v; want %s %s, error with %q", tt.query, got, err, tt.from, tt.to, tt.err)
		}
	}
}

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/": "/", "/riverui/": "/riverui/", "/?shop=a&from=2026-01-01": "/?shop=a&from=2026-01-01",
		"": "/", "https://evil.example/": "/", "//evil.example/": "/", `/\evil.example`: "/", "riverui": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{"127.0.0.1:9090": true, "[::1]:9090": true, "0.0.0.0:9090": false, "[::]:9090": false, "10.1.2.3:9090": false} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsLoopback(a); got != want {
			t.Errorf("IsLoopback(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestOperatorOnly is the token rule: open on loopback without a token, closed on any
// other address without one, and the token needed everywhere once it is set.
func TestOperatorOnly(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	tests := []struct {
		name     string
		token    string
		loopback bool
		send     func(r *http.Request)
		want     int
	}{
		{"loopback, no token set", "", true, func(*http.Request) {}, 200},
		{"other address, no token set", "", false, func(*http.Request) {}, 401},
		{"other address, no token set, a bearer anyway", "", false, func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, 401},
		{"loopback, token set, none sent", token, true, func(*http.Request) {}, 401},
		{"other address, bearer", token, false, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 200},
		{"other address, cookie", token, false, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: TokenCookie, Value: token}) }, 200},
		{"wrong bearer", token, true, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"wrong cookie", token, true, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: TokenCookie, Value: "nope"}) }, 401},
		{"basic auth", token, true, func(r *http.Request) { r.SetBasicAuth("operator", token) }, 401},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		tt.send(r)
		w := httptest.NewRecorder()
		OperatorOnly(tt.token, tt.loopback, ok).ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, w.Code, tt.want)
		}
	}
}

// TestLogin: a browser turned away gets the form; the right token sets a cookie no script
// reads and no other site sends, and goes back where it was going; a wrong one does not.
func TestLogin(t *testing.T) {
	t.Parallel()
	h := New(Options{Token: "s3cret-token", Loopback: true})

	r := httptest.NewRequest(http.MethodGet, "/?from=2026-01-01", nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `name="token"`) ||
		!strings.Contains(w.Body.String(), `value="/?from=2026-01-01"`) {
		t.Errorf("a browser without the token: %d\n%s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w = post(url.Values{"token": {"guess"}, "next": {"/"}})
	if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) > 0 {
		t.Errorf("a wrong token: %d, cookies %v", w.Code, w.Result().Cookies())
	}
	w = post(url.Values{"token": {"s3cret-token"}, "next": {"//evil.example/"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Errorf("the right token with a next of another site: %d to %q, want 303 to /", w.Code, w.Header().Get("Location"))
	}
	w = post(url.Values{"token": {"s3cret-token"}, "next": {"/riverui/"}})
	cs := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/riverui/" || len(cs) != 1 {
		t.Fatalf("the right token: %d to %q, cookies %v", w.Code, w.Header().Get("Location"), cs)
	}
	if c := cs[0]; c.Name != TokenCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie %+v: want %s, HttpOnly, SameSite=Strict, Path=/", c, TokenCookie)
	}
}

// TestStatic: the embedded files are served with their ETag, and nothing else is.
func TestStatic(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/static/uPlot.iife.min.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || tag == "" || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("uPlot: %s, ETag %q, %s", resp.Status, tag, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/static/uPlot.iife.min.js", nil)
	req.Header.Set("If-None-Match", tag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: %s, want 304", resp.Status)
	}
	for _, p := range []string{"/static/", "/static/nope.js", "/templates/page.html"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", p, resp.Status)
		}
	}
}

// TestChartLibraryPinned: the embedded uPlot is the version package.json pins and
// package-lock.json locks, and its license is beside it.
func TestChartLibraryPinned(t *testing.T) {
	t.Parallel()
	var pkg struct{ Dependencies map[string]string }
	var lock struct {
		Packages map[string]struct{ Version, License string }
	}
	for file, v := range map[string]any{"package.json": &pkg, "package-lock.json": &lock} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	pinned := pkg.Dependencies["uplot"]
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(pinned) {
		t.Fatalf("package.json pins uplot at %q, want an exact version", pinned)
	}
	if l := lock.Packages["node_modules/uplot"]; l.Version != pinned || l.License != "MIT" {
		t.Errorf("package-lock.json has uplot %s (%s), want %s (MIT)", l.Version, l.License, pinned)
	}
	js, err := staticFiles.ReadFile("static/uPlot.iife.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(js), "/*! https://github.com/leeoniya/uPlot (v"+pinned+") */") {
		t.Errorf("static/uPlot.iife.min.js is not uPlot %s: %.60s", pinned, js)
	}
	if lic, err := staticFiles.ReadFile("static/uPlot.LICENSE"); err != nil || !strings.Contains(string(lic), "MIT License") {
		t.Errorf("static/uPlot.LICENSE: %v", err)
	}
}
