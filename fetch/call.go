package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"ordersync/order"
)

// maxReply bounds a reply body; a list page of 100 orders is a few hundred kB.
const maxReply = 32 << 20

// maxRefreshes bounds the token refreshes of one call.
const maxRefreshes = 3

// maxBadReplies bounds the attempts of a call whose replies come back as HTTP 200 but
// unreadable (cut short, not JSON, no envelope): such a reply is usually the same on every
// attempt, so a few attempts tell a glitch from a broken order without spending a minute.
const maxBadReplies = 3

// call makes one API call, retrying what may pass, and returns the reply's data and its
// whole body. params is the JSON object of a business call's body, without access_token;
// nil for the token call.
//
// It returns the context's error when ctx ends, an *APIError for a call that failed, or a
// *RetryError around one when the call failed after retries.
func (c *Client) call(ctx context.Context, ep *endpoint, params []byte) (data json.RawMessage, body []byte, err error) {
	start := time.Now()
	var stale string // a token the API rejected, so not to be used again
	// justRefreshed says the last attempt used a token refreshed for this call: rejected
	// again at once, refreshing more would only loop. A token that served other answers
	// first (busy, refused) and was rejected later has expired anew during the call's
	// retries, and earns a refresh of its own, up to maxRefreshes per call.
	justRefreshed, refreshes, badReplies := false, 0, 0
	for attempt := 1; ; attempt++ {
		var tok string
		if ep != c.token {
			var err error
			if tok, err = c.tokens.get(ctx, stale); err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				return nil, nil, fmt.Errorf("%w: %w", ErrNoToken, err)
			}
		}
		waitStart := time.Now()
		gen, call, err := ep.pacer.wait(ctx)
		c.obs.RateWait(ep.name, time.Since(waitStart))
		if err != nil {
			return nil, nil, err
		}

		sent := time.Now()
		data, body, err := c.attempt(ep.traceSent(ctx, call), ep, tok, params)
		if err == nil {
			ep.pacer.succeeded()
			c.lastOK.Store(time.Now().UnixNano())
			return data, body, nil
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			return nil, nil, err // the context's error: nothing to retry
		}
		if ae.Kind != KindTokenExpired {
			justRefreshed = false
		}
		switch ae.Kind {
		case KindTokenExpired:
			if ep == c.token || justRefreshed || refreshes == maxRefreshes {
				return nil, nil, err
			}
			// Refresh once, then try again at once: the token, not the API, was at fault.
			justRefreshed, stale = true, tok
			refreshes++
			c.obs.Retry(ep.name, ae.Kind)
			continue
		case KindRateLimited:
			if pace, slowed := ep.pacer.slowDown(gen); slowed {
				c.log.LogAttrs(ctx, slog.LevelWarn, "xiaoe refused calls; slowing down",
					slog.String("endpoint", ep.name), slog.Int("code", ae.Code),
					slog.Float64("calls_per_second", math.Round(pace*100)/100))
			}
		case KindTransient, KindMalformed:
			if ae.Code == 0 && ae.HTTPStatus == http.StatusOK {
				badReplies++ // a 200 that is no envelope, or whose data is broken
			}
		default:
			return nil, nil, err
		}

		wait := c.backoff(attempt, ae)
		elapsed := time.Since(start)
		if attempt >= c.maxAttempts || badReplies >= maxBadReplies || elapsed+wait > c.maxRetryTime {
			// Only a success after the last attempt was sent says the API works: calls
			// in flight when it went down may still have succeeded after earlier ones.
			isolated := c.lastOK.Load() > sent.UnixNano()
			return nil, nil, &RetryError{Attempts: attempt, Elapsed: elapsed, Isolated: isolated, Err: err}
		}
		c.obs.Retry(ep.name, ae.Kind)
		level := slog.LevelDebug
		if attempt == 3 {
			// Say it once at the default level, a few seconds in: the API is not answering.
			level = slog.LevelWarn
		}
		c.log.LogAttrs(ctx, level, "xiaoe call failed; retrying",
			slog.String("endpoint", ep.name), slog.Int("attempt", attempt),
			slog.String("kind", ae.Kind.String()), slog.Int("code", ae.Code),
			slog.Int("http_status", ae.HTTPStatus), slog.Int64("backoff_ms", wait.Milliseconds()),
			slog.String("error", ae.Error()))
		if err := sleep(ctx, wait); err != nil {
			return nil, nil, err
		}
	}
}

// traceSent returns ctx with a trace that tells the endpoint's pacer when call was
// written out.
func (ep *endpoint) traceSent(ctx context.Context, call uint64) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { ep.pacer.sent(call, time.Now()) },
	})
}

// backoff is the wait after the attempt-th failed attempt: exponential, half of it random.
func (c *Client) backoff(attempt int, ae *APIError) time.Duration {
	d := c.backoffMin
	for i := 1; i < attempt && d < c.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.backoffMax)
	d = d/2 + rand.N(d/2+1)
	return max(d, ae.retryAfter)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt makes one HTTP request and interprets its reply.
func (c *Client) attempt(ctx context.Context, ep *endpoint, tok string, params []byte) (json.RawMessage, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	req, err := c.newRequest(actx, ep, tok, params)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
		resp.Body.Close()
	}
	d := time.Since(start)
	if err != nil {
		c.obs.Call(ep.name, -1, d)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		ae := &APIError{Endpoint: ep.name, Kind: KindTransient, Err: sanitizeError(err)}
		if actx.Err() != nil {
			ae.Err = fmt.Errorf("no reply within %s: %w", c.requestTimeout, ae.Err)
		}
		return nil, nil, ae
	}
	if len(body) > maxReply {
		c.obs.Call(ep.name, -resp.StatusCode, d)
		return nil, nil, &APIError{Endpoint: ep.name, HTTPStatus: resp.StatusCode, Kind: KindInvalid,
			Msg: fmt.Sprintf("reply larger than %d bytes", maxReply), Reply: body[:maxReply]}
	}
	data, err := c.interpret(ep, resp, body, d)
	return data, body, err
}

// newRequest builds the request of one attempt. The token call is a GET with the
// credentials in its query (what the official SDKs and every client in the wild do); the
// business calls are POSTs of a JSON object that holds access_token.
func (c *Client) newRequest(ctx context.Context, ep *endpoint, tok string, params []byte) (*http.Request, error) {
	if ep == c.token {
		q := url.Values{
			"app_id":     {c.appID},
			"client_id":  {c.clientID},
			"secret_key": {string(c.secret)},
			"grant_type": {"client_credential"},
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.url+"?"+q.Encode(), nil)
		if err != nil {
			return nil, sanitizeError(err)
		}
		req.Header.Set("Accept", "application/json")
		return req, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(withToken(tok, params)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// withToken returns the JSON object params with access_token added as its first member.
func withToken(tok string, params []byte) []byte {
	q, _ := json.Marshal(tok) // a string always marshals
	b := make([]byte, 0, len(params)+len(q)+20)
	b = append(b, `{"access_token":`...)
	b = append(b, q...)
	rest := bytes.TrimSpace(params)
	if len(rest) > 2 { // more than {}
		b = append(b, ',')
		b = append(b, rest[1:]...)
		return b
	}
	return append(b, '}')
}

// envelope is every reply's shape. code arrives as a number, and is read leniently in case
// it comes as a numeric string.
type envelope struct {
	Code jsontext.Value `json:"code"`
	Msg  jsontext.Value `json:"msg"`
	Data jsontext.Value `json:"data"`
}

// interpret turns a reply into its data or an error, and reports it to the Observer.
func (c *Client) interpret(ep *endpoint, resp *http.Response, body []byte, d time.Duration) (json.RawMessage, error) {
	var env envelope
	jsonErr := jsonv2.Unmarshal(body, &env, order.JSONOptions)
	code, hasCode := parseCode(env.Code)
	if jsonErr != nil || !hasCode || resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusOK && corruptData(body) {
			c.obs.Call(ep.name, 0, d)
			return nil, &APIError{Endpoint: ep.name, HTTPStatus: resp.StatusCode, Kind: KindMalformed,
				Msg: "the reply says success, but its data is cut short or not JSON", Reply: body}
		}
		c.obs.Call(ep.name, -resp.StatusCode, d)
		cl := classifyHTTP(ep.name, resp.StatusCode)
		msg := ""
		if jsonErr == nil && hasCode {
			msg = c.red.redact(text(env.Msg))
		} else {
			msg = c.red.redact(snippet(body))
			if resp.StatusCode == http.StatusOK {
				msg = "reply is not a JSON envelope: " + msg
			}
		}
		return nil, &APIError{Endpoint: ep.name, HTTPStatus: resp.StatusCode, Msg: msg,
			Kind: cl.kind, Todo: cl.todo, retryAfter: retryAfter(resp), Reply: body}
	}
	c.obs.Call(ep.name, code, d)
	if code != 0 {
		cl := classifyCode(code)
		return nil, &APIError{Endpoint: ep.name, Code: code, Msg: c.red.redact(text(env.Msg)),
			HTTPStatus: resp.StatusCode, Kind: cl.kind, Todo: cl.todo, Reply: body}
	}
	return json.RawMessage(env.Data), nil
}

// parseCode reads the envelope's code: a number or a numeric string.
func parseCode(raw []byte) (int, bool) {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// text is a JSON string's value, or the JSON text of anything else.
func text(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// snippet is the start of a reply that is not JSON, tags and runs of space removed, to say
// in an error what the server said (an HTML error page's title and text).
func snippet(body []byte) string {
	const limit = 160
	var b strings.Builder
	inTag, space := false, false
	for _, r := range string(body) {
		switch {
		case r == '<':
			inTag = true
			continue
		case r == '>' && inTag:
			inTag, space = false, true
			continue
		case inTag:
			continue
		case r == utf8.RuneError, r < ' ' || r == ' ':
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() >= limit {
			b.WriteString("…")
			break
		}
	}
	return b.String()
}

// retryAfter reads a Retry-After header in seconds, capped at a minute.
func retryAfter(resp *http.Response) time.Duration {
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, time.Minute)
}

// corruptData recognises a reply that is a JSON object whose code is 0 and whose data
// member is malformed or cut short: the API's answer, which the next attempt would most
// likely return again, unlike a proxy's error page.
func corruptData(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	codeZero := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		key, _ := t.(string)
		var raw json.RawMessage
		err = dec.Decode(&raw)
		var se *json.SyntaxError
		switch {
		case key == "data" && codeZero && (errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF)):
			return true
		case err != nil:
			return false
		case key == "code":
			n, ok := parseCode(raw)
			codeZero = ok && n == 0
		}
	}
	return false
}
