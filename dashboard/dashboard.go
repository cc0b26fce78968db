// Package dashboard is ordersync's web page: the sync's health per shop (runs, checkpoint
// lag, failure queue, API calls, last verify) and a shop's sales over a range of Shanghai
// days, read from the reporting views that `syncer report` reads.
//
// The page is rendered on the server with html/template, which escapes every value. Its
// charts are drawn by uPlot and a small script of its own, embedded in the binary with
// their style sheets: the page loads nothing from anywhere else, and its
// Content-Security-Policy says so. It reads the database in one read-only snapshot, and
// never a buyer's phone number or address.
package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/store"
)

// Options configure the dashboard.
type Options struct {
	Store *store.Store
	// Token is the operator's token (DASHBOARD_TOKEN); "" for none.
	Token string
	// Loopback says that the listener is on the loopback interface only: without a Token,
	// only then is the page served. See OperatorOnly.
	Loopback bool
	// Shop is the shop shown when the page's address names none (--shop); default the
	// first.
	Shop   string
	Logger *slog.Logger
}

// New returns the dashboard's handler, to be mounted at the root of a server: the page at
// /, the login form's /login and /logout, and its files under /static/. The page needs
// the operator's token as OperatorOnly says; the static files are public (a chart library,
// a script and style sheets) so that the login form has its style.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &dash{opts: opts}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler()))
	mux.HandleFunc("POST /login", d.login)
	mux.HandleFunc("POST /logout", d.logout)
	mux.Handle("GET /{$}", OperatorOnly(opts.Token, opts.Loopback, http.HandlerFunc(d.page)))
	return secure(mux)
}

type dash struct{ opts Options }

// csp allows the page its own scripts, styles, images and forms, and nothing else: no
// inline script, no other origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// staticFiles are what the browser loads. The charts are uPlot (static/uPlot.*, pinned in
// package.json): 51 kB minified, MIT-licensed, no dependencies, canvas drawing; Chart.js
// is four times its size and brings a color library. README.md says how to update it.
//
//go:embed static
var staticFiles embed.FS

//go:embed templates
var templateFiles embed.FS

var (
	pageTmpl  = template.Must(template.New("page.html").Funcs(funcs).ParseFS(templateFiles, "templates/page.html", "templates/layout.html"))
	loginTmpl = template.Must(template.New("login.html").Funcs(funcs).ParseFS(templateFiles, "templates/login.html", "templates/layout.html"))
)

// staticHandler serves the embedded files with an ETag of their content, so a browser
// revalidates them cheaply and never keeps a file of an older binary.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	tags := map[string]string{}
	_ = fs.WalkDir(sub, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		sum := sha256.Sum256(b)
		tags[p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return err
	})
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tag, ok := tags[r.URL.Path]
		if !ok {
			http.NotFound(w, r) // and no directory listings
			return
		}
		w.Header().Set("ETag", tag)
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// maxDays is the longest range the page shows, to keep it one screenful of a year.
const maxDays = 366

// pageData is everything the page shows, read in one snapshot.
type pageData struct {
	Now      time.Time
	Shops    []string
	Shop     string // the shop shown; "" when the database has none
	From, To string // the range, YYYY-MM-DD in Shanghai, both days included
	RangeErr string // why the range asked for cannot be shown
	LoggedIn bool   // the operator came in with the cookie, and may log out

	Health []health // every shop's, in Shops order
	Detail health   // the shop shown's
	Sales  sales
	Charts charts
}

func (d *dash) page(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	now := time.Now()
	p := pageData{Now: now, Shop: r.URL.Query().Get("shop")}
	_, err := r.Cookie(TokenCookie)
	p.LoggedIn = err == nil && d.opts.Token != ""

	first, last, rerr := parseRange(r.URL.Query(), now)
	p.From, p.To = first.Format(time.DateOnly), last.Format(time.DateOnly)
	if rerr != nil {
		p.RangeErr = rerr.Error()
	}

	err = pgx.BeginTxFunc(ctx, d.opts.Store.Pool(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return d.read(ctx, tx, &p, first, last) })
	var unknown errUnknownShop
	switch {
	case errors.As(err, &unknown):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		d.opts.Logger.Error("dashboard: read the database", "error", err)
		http.Error(w, "the dashboard could not read the database; the log says why", http.StatusInternalServerError)
		return
	}
	status := http.StatusOK
	if p.RangeErr != "" {
		status = http.StatusBadRequest
	}
	render(w, pageTmpl, status, p, d.opts.Logger)
}

type errUnknownShop string

func (e errUnknownShop) Error() string { return fmt.Sprintf("no shop %q in this database", string(e)) }

// read fills p from the database: every shop's health, and the chosen shop's sales over
// [first, last] unless the range is wrong.
func (d *dash) read(ctx context.Context, tx pgx.Tx, p *pageData, first, last time.Time) error {
	var err error
	if p.Shops, err = shops(ctx, tx); err != nil {
		return err
	}
	if p.Shop == "" {
		p.Shop = d.opts.Shop
	}
	switch {
	case p.Shop == "" && len(p.Shops) > 0:
		p.Shop = p.Shops[0]
	case p.Shop != "" && !slices.Contains(p.Shops, p.Shop):
		return errUnknownShop(p.Shop)
	}
	for _, id := range p.Shops {
		h, err := readHealth(ctx, tx, id, p.Now)
		if err != nil {
			return err
		}
		p.Health = append(p.Health, h)
		if id == p.Shop {
			p.Detail = h
		}
	}
	if p.Shop == "" || p.RangeErr != "" {
		return nil
	}
	if p.Sales, err = readSales(ctx, tx, p.Shop, first, last); err != nil {
		return err
	}
	p.Charts = buildCharts(p.Sales)
	return nil
}

// parseRange reads the from and to days of the form. Either may be missing: to defaults
// to today and from to the 13 days before to, for 14 days in all. On a wrong range it
// returns the default range and the reason.
func parseRange(q url.Values, now time.Time) (first, last time.Time, err error) {
	y, m, dd := now.In(shanghai).Date()
	today := time.Date(y, m, dd, 0, 0, 0, 0, shanghai)
	defFirst, defLast := today.AddDate(0, 0, -13), today
	last = defLast
	if v := q.Get("to"); v != "" {
		if last, err = time.ParseInLocation(time.DateOnly, v, shanghai); err != nil {
			return defFirst, defLast, fmt.Errorf("to %q is not a day (YYYY-MM-DD)", v)
		}
	}
	first = last.AddDate(0, 0, -13)
	if v := q.Get("from"); v != "" {
		if first, err = time.ParseInLocation(time.DateOnly, v, shanghai); err != nil {
			return defFirst, defLast, fmt.Errorf("from %q is not a day (YYYY-MM-DD)", v)
		}
	}
	switch {
	case first.After(last):
		return defFirst, defLast, fmt.Errorf("from %s is after to %s", first.Format(time.DateOnly), last.Format(time.DateOnly))
	case last.Sub(first) >= maxDays*24*time.Hour:
		return defFirst, defLast, fmt.Errorf("%s to %s is more than %d days", first.Format(time.DateOnly), last.Format(time.DateOnly), maxDays)
	}
	return first, last, nil
}

// loginPage is what the login form shows.
type loginPage struct {
	Reason   string
	CanLogin bool   // a token can open the page (one is configured)
	Next     string // where to go after logging in
}

func renderLogin(w http.ResponseWriter, status int, p loginPage) {
	render(w, loginTmpl, status, p, nil)
}

// render executes t into a buffer first, so that a template error is a clean 500 and not
// half a page.
func render(w http.ResponseWriter, t *template.Template, status int, data any, log *slog.Logger) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		if log != nil {
			log.Error("dashboard: render", "error", err)
		}
		http.Error(w, "the dashboard could not render this page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page shows revenue: no cache keeps it.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
