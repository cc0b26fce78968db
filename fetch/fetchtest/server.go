package fetchtest

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TB is the part of testing.TB the server uses (so that this package does not pull the
// testing package into `syncer demo`).
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
}

// Server is a Shop served over HTTP on a local port.
type Server struct {
	*Shop
	srv *httptest.Server
}

// NewServer starts a shop's API for a test and closes it when the test ends. A request to
// a path the API does not have fails the test.
func NewServer(tb TB, opts Options) *Server {
	tb.Helper()
	s := Start(opts)
	s.tb = tb
	tb.Cleanup(s.Close)
	return s
}

// Start starts a shop's API on a local port, outside tests (syncer demo). Close it when done.
func Start(opts Options) *Server {
	shop := New(opts)
	return &Server{Shop: shop, srv: httptest.NewServer(shop.Handler())}
}

// URL is the base URL of the API, to use as the client's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server, cutting any call still in progress.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Handler serves the shop's API: GET (or POST) /token, and POST
// /xe.ecommerce.order.list/1.0.0 and /xe.ecommerce.order.detail/1.0.0.
func (s *Shop) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Shop) serve(w http.ResponseWriter, r *http.Request) {
	ep := strings.TrimPrefix(r.URL.Path, "/")
	switch ep {
	case EndpointToken:
		s.serveToken(w, r, tokenParams(r))
	case EndpointList, EndpointDetail:
		s.serveBusiness(w, r, ep, businessParams(r))
	default:
		s.count("404", -http.StatusNotFound)
		notFound(s.tb, w, r)
	}
}

func notFound(tb TB, w http.ResponseWriter, r *http.Request) {
	if tb != nil {
		tb.Errorf("fetchtest: %s %s: the Xiaoe API has no such path", r.Method, r.URL.Path)
	}
	http.NotFound(w, r)
}

// tokenParams are the parameters of a token call. The official SDKs send them as a JSON
// body on the GET; everyone else as a query string. Take either.
func tokenParams(r *http.Request) url.Values {
	q := r.URL.Query()
	if q.Get("app_id") != "" {
		return q
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	var p map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &p) != nil {
		return q
	}
	q = url.Values{}
	for k, v := range p {
		if s, ok := str(v); ok {
			q.Set(k, s)
		}
	}
	return q
}

// businessParams reads the JSON body of a list or detail call: nil when it is not a JSON
// object. It reads the request before any latency, because only then does net/http notice
// a client that goes away (and cancel r.Context()).
func businessParams(r *http.Request) map[string]json.RawMessage {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var params map[string]json.RawMessage
	if err != nil || json.Unmarshal(body, &params) != nil {
		return nil
	}
	if params == nil { // the body was null
		params = map[string]json.RawMessage{}
	}
	return params
}

// count records a call and its answer.
func (s *Shop) count(ep string, code int) {
	s.smu.Lock()
	defer s.smu.Unlock()
	s.stats.Calls[ep]++
	if s.stats.Codes[ep] == nil {
		s.stats.Codes[ep] = map[int]int{}
	}
	s.stats.Codes[ep][code]++
	if code == 2054 {
		s.stats.RateLimited++
	}
}

// reply writes an API envelope and counts it; data is JSON or nil for null.
func (s *Shop) reply(w http.ResponseWriter, ep string, code int, msg string, data []byte) {
	s.count(ep, code)
	writeReply(w, code, msg, data)
}

func writeReply(w http.ResponseWriter, code int, msg string, data []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(envelope(code, msg, data))
}

func envelope(code int, msg string, data []byte) []byte {
	b := make([]byte, 0, len(data)+64)
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"msg":`...)
	b = appendString(b, msg)
	b = append(b, `,"data":`...)
	if data == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, data...)
	}
	return append(b, '}')
}

// answer writes a reply that is no API envelope, and counts it by its HTTP status.
func (s *Shop) answer(w http.ResponseWriter, ep string, status int, contentType string, body []byte) {
	s.count(ep, -status)
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(body)
}

// htmlError answers as the nginx in front of the API does when what is behind it fails.
func (s *Shop) htmlError(w http.ResponseWriter, ep string, status int) {
	page := strings.NewReplacer("%d", strconv.Itoa(status), "%s", http.StatusText(status)).Replace(htmlError)
	s.answer(w, ep, status, "text/html", []byte(page))
}

// codeMsgs are the messages the shop sends with its error codes (return-codes.md, and the
// messages seen in real replies).
var codeMsgs = map[int]string{
	1001: "系统繁忙", 1002: "api sick",
	2001: "缺失 app_id 参数", 2002: "错误 app_id 参数", 2003: "缺失 secret_key 参数",
	2004: "invalid secret_key", 2005: "缺失 grant_type 参数", 2006: "grant_type 参数错误",
	2007: "缺失 凭证access_token", 2008: "access_token 过期 或者不存在",
	2017: "没有请求本接口的权限,请申请对应接口权限集", 2020: "invalid client_id",
	2051: "ip not in white list", 2052: "invalid path", 2053: "API的调用次数达到上线",
	2054: "API的请求短时间突增", 2055: "API请求方式错误",
	40001: "参数错误", 40004: "不存在的 order_state_state 类型",
}

// msgNotObject is the msg of a 40001 for a body that is not a JSON object.
const msgNotObject = "请求体不是 JSON 对象"

func codeMsg(code int) string {
	if m, ok := codeMsgs[code]; ok {
		return m
	}
	return "error " + strconv.Itoa(code)
}

// wait sleeps for the latency, and reports false if the client went away meanwhile.
func (s *Shop) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		s.smu.Lock()
		s.stats.Abandoned++
		s.smu.Unlock()
		return false
	}
}

// admit counts a call in its endpoint's one-second window and reports whether the rate
// allows it.
func (s *Shop) admit(ep string, rate float64) bool {
	sec := time.Now().Unix()
	s.tmu.Lock()
	win := s.windows[ep]
	if win == nil {
		win = &rateWindow{}
		s.windows[ep] = win
	}
	if win.sec != sec {
		win.sec, win.n = sec, 0
	}
	win.n++
	n := win.n
	s.tmu.Unlock()

	s.smu.Lock()
	s.stats.MaxPerSecond[ep] = max(s.stats.MaxPerSecond[ep], n)
	s.smu.Unlock()
	return rate < 0 || n <= max(1, int(math.Floor(rate)))
}

const htmlError = `<html>
<head><title>%d %s</title></head>
<body>
<center><h1>%d %s</h1></center>
<hr><center>nginx</center>
</body>
</html>
`

// serveBusiness answers a list or detail call whose body has been read into params.
func (s *Shop) serveBusiness(w http.ResponseWriter, r *http.Request, ep string, params map[string]json.RawMessage) {
	s.fmu.Lock()
	rate, failWith, latency := s.rate, s.failWith[ep], s.latency
	roll := s.dice.Float64()
	busy, serverErr := s.busy, s.serverErr
	busyCode := 1001 + s.dice.IntN(2)
	errStatus := http.StatusBadGateway + s.dice.IntN(2) // 502 or 503
	s.fmu.Unlock()

	if !s.admit(ep, rate) {
		s.reply(w, ep, 2054, codeMsg(2054), nil)
		return
	}
	if r.Method != http.MethodPost {
		s.reply(w, ep, 2055, codeMsg(2055), nil)
		return
	}
	if failWith != 0 {
		s.reply(w, ep, failWith, codeMsg(failWith), nil)
		return
	}
	if !s.wait(r, latency) {
		return
	}
	switch {
	case roll < busy:
		s.reply(w, ep, busyCode, codeMsg(busyCode), nil)
		return
	case roll < busy+serverErr:
		s.htmlError(w, ep, errStatus)
		return
	}
	if params == nil {
		s.reply(w, ep, 40001, msgNotObject, nil)
		return
	}

	tok, _ := str(params["access_token"])
	if tok == "" {
		s.reply(w, ep, 2007, codeMsg(2007), nil)
		return
	}
	if !s.tokenValid(tok) {
		s.reply(w, ep, 2008, codeMsg(2008), nil)
		return
	}
	if ep == EndpointList {
		s.serveList(w, params)
	} else {
		s.serveDetail(w, params)
	}
}

// str reads a JSON string, or a number as its text.
func str(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(bytes.TrimSpace(raw)), true
}

// num reads a JSON number or numeric string.
func num(raw json.RawMessage, def int) (int, bool) {
	s, ok := str(raw)
	if !ok || s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// serveToken answers a token call with parameters q.
func (s *Shop) serveToken(w http.ResponseWriter, r *http.Request, q url.Values) {
	ep := EndpointToken
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.reply(w, ep, 2055, codeMsg(2055), nil)
		return
	}
	now := s.now()
	s.tmu.Lock()
	if now.Sub(s.quotaStart) >= 10*time.Minute {
		s.quotaStart, s.quotaCalls = now, 0
	}
	s.quotaCalls++
	over := s.quotaCalls > 100
	s.tmu.Unlock()
	if over {
		s.reply(w, ep, 2053, codeMsg(2053), nil)
		return
	}
	s.fmu.Lock()
	failWith, latency := s.failWith[ep], s.latency
	s.fmu.Unlock()
	if failWith != 0 {
		s.reply(w, ep, failWith, codeMsg(failWith), nil)
		return
	}
	if !s.wait(r, latency) {
		return
	}
	code := 0
	switch o := s.opts; {
	case q.Get("app_id") == "":
		code = 2001
	case q.Get("app_id") != o.AppID:
		code = 2002
	case q.Get("client_id") != o.ClientID:
		code = 2020
	case q.Get("secret_key") == "":
		code = 2003
	case q.Get("secret_key") != o.SecretKey:
		code = 2004
	case q.Get("grant_type") == "":
		code = 2005
	case q.Get("grant_type") != "client_credential":
		code = 2006
	}
	if code != 0 {
		s.reply(w, ep, code, codeMsg(code), nil)
		return
	}

	s.tmu.Lock()
	s.tokenSerial++
	tok := s.newToken()
	now = s.now()
	for _, t := range s.tokens {
		if t.retires.IsZero() {
			t.retires = now.Add(5 * time.Minute) // the API's overlap
		}
	}
	s.tokens[tok] = &tokenState{expires: now.Add(s.opts.TokenTTL)}
	s.tokenList = append(s.tokenList, tok)
	s.tmu.Unlock()
	s.smu.Lock()
	s.stats.TokensIssued++
	s.smu.Unlock()

	data := (&jw{}).tokenData(tok, int64(s.opts.TokenTTL/time.Second))
	s.reply(w, ep, 0, "success", data)
}

func (w *jw) tokenData(tok string, expiresIn int64) []byte {
	w.obj("")
	w.str("access_token", tok)
	w.int("expires_in", expiresIn)
	w.end()
	return w.b
}

// newToken makes a token like the newer API's (no prefix). s.tmu must be held.
func (s *Shop) newToken() string {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	b := make([]byte, 40)
	for i := range b {
		b[i] = alnumSet[s.dice.IntN(len(alnumSet))]
	}
	return string(b)
}

// issued reports whether the shop issued tok, whether it is still valid or not.
func (s *Shop) issued(tok string) bool {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return s.tokens[tok] != nil
}

func (s *Shop) tokenValid(tok string) bool {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	t := s.tokens[tok]
	if t == nil {
		return false
	}
	now := s.now()
	return now.Before(t.expires) && (t.retires.IsZero() || now.Before(t.retires))
}

func (s *Shop) serveDetail(w http.ResponseWriter, params map[string]json.RawMessage) {
	id, _ := str(params["order_id"])
	if id == "" {
		s.reply(w, EndpointDetail, 40001, "缺少参数 order_id", nil)
		return
	}
	s.smu.Lock()
	s.stats.DetailCalls[id]++
	s.smu.Unlock()
	s.mu.RLock()
	var detail []byte
	if m := s.orders[id]; m != nil {
		detail = s.detail(m)
	}
	s.mu.RUnlock()
	if detail == nil {
		s.reply(w, EndpointDetail, 0, "success", nil)
		return
	}
	if f := s.fault(id); f != FaultNone && f != FaultBroken {
		s.serveFault(w, f, detail)
		return
	}
	s.smu.Lock()
	s.stats.DetailServed[id]++
	s.smu.Unlock()
	s.reply(w, EndpointDetail, 0, "success", detail)
}
