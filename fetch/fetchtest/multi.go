package fetchtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Multi is many shops behind one API, as an agency reaches the shops it runs: each shop
// has its own credentials, orders, rate limits, tokens, faults and stats. A token call goes
// to the shop of its app_id, which checks the rest of the credentials; a list or detail
// call goes to the shop that issued its access token, so that a token is unknown (2008) to
// every other shop. Calls that reach no shop are answered by Multi itself and counted by
// none: a token call without a known app_id (2001, 2002), a business call without a JSON
// body (40001) or a token (2007), or with a token no shop issued (2008).
type Multi struct {
	shops []*Shop
	byApp map[string]*Shop
	tb    TB // set by NewMultiServer: unknown paths fail the test
}

// NewMulti makes a shop for each of opts, the i-th (from 0) with these defaults where its
// options leave them zero: Seed i+1, so that the shops' orders differ; AppID
// appdemoshop0001, appdemoshop0002, …; ClientID xopdemoclient01, …; SecretKey
// fakeshop-secret-9c41e07b5d-0001, …. It panics if two shops have the same app id.
func NewMulti(opts []Options) *Multi {
	m := &Multi{shops: make([]*Shop, len(opts)), byApp: make(map[string]*Shop, len(opts))}
	var wg sync.WaitGroup
	for i, o := range opts {
		n := int64(i + 1)
		if o.Seed == 0 {
			o.Seed = n
		}
		o.AppID = orDefault(o.AppID, fmt.Sprintf("appdemoshop%04d", n))
		o.ClientID = orDefault(o.ClientID, fmt.Sprintf("xopdemoclient%02d", n))
		o.SecretKey = orDefault(o.SecretKey, fmt.Sprintf("%s-%04d", DefaultSecretKey, n))
		wg.Go(func() { m.shops[i] = New(o) })
	}
	wg.Wait()
	for _, s := range m.shops {
		if m.byApp[s.opts.AppID] != nil {
			panic("fetchtest: two shops with app_id " + s.opts.AppID)
		}
		m.byApp[s.opts.AppID] = s
	}
	return m
}

// Shop is the shop with this app id, or nil.
func (m *Multi) Shop(appID string) *Shop { return m.byApp[appID] }

// Shops are the shops, in the order of NewMulti's options.
func (m *Multi) Shops() []*Shop { return append([]*Shop(nil), m.shops...) }

// Handler serves the shops' API, at the paths Shop.Handler serves.
func (m *Multi) Handler() http.Handler { return http.HandlerFunc(m.serve) }

func (m *Multi) serve(w http.ResponseWriter, r *http.Request) {
	switch ep := strings.TrimPrefix(r.URL.Path, "/"); ep {
	case EndpointToken:
		q := tokenParams(r)
		if s := m.byApp[q.Get("app_id")]; s != nil {
			s.serveToken(w, r, q)
			return
		}
		code := 2002
		if q.Get("app_id") == "" {
			code = 2001
		}
		writeReply(w, code, codeMsg(code), nil)
	case EndpointList, EndpointDetail:
		params := businessParams(r)
		tok, _ := str(params["access_token"])
		if s := m.issuer(tok); s != nil {
			s.serveBusiness(w, r, ep, params)
			return
		}
		switch {
		case r.Method != http.MethodPost:
			writeReply(w, 2055, codeMsg(2055), nil)
		case params == nil:
			writeReply(w, 40001, msgNotObject, nil)
		case tok == "":
			writeReply(w, 2007, codeMsg(2007), nil)
		default:
			writeReply(w, 2008, codeMsg(2008), nil)
		}
	default:
		notFound(m.tb, w, r)
	}
}

// issuer is the shop that issued tok, expired or not, or nil.
func (m *Multi) issuer(tok string) *Shop {
	if tok == "" {
		return nil
	}
	for _, s := range m.shops {
		if s.issued(tok) {
			return s
		}
	}
	return nil
}

// MultiServer is a Multi served over HTTP on a local port.
type MultiServer struct {
	*Multi
	srv *httptest.Server
}

// NewMultiServer starts the shops' API for a test and closes it when the test ends. A
// request to a path the API does not have fails the test.
func NewMultiServer(tb TB, opts []Options) *MultiServer {
	tb.Helper()
	s := StartMulti(opts)
	s.tb = tb
	tb.Cleanup(s.Close)
	return s
}

// StartMulti starts the shops' API on a local port, outside tests. Close it when done.
func StartMulti(opts []Options) *MultiServer {
	m := NewMulti(opts)
	return &MultiServer{Multi: m, srv: httptest.NewServer(m.Handler())}
}

// URL is the base URL of the API, to use as every shop's base URL.
func (s *MultiServer) URL() string { return s.srv.URL }

// Close stops the server, cutting any call still in progress.
func (s *MultiServer) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}
