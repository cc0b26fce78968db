package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind is the class of a failed call. The client retries KindTransient and KindRateLimited calls,
// refreshes the token once on KindTokenExpired, and fails at once on the others.
type Kind int

const (
	// KindTransient: busy codes 1001/1002, HTTP 5xx, timeouts, connection errors, a reply that
	// is not JSON. Retried with exponential backoff.
	KindTransient Kind = iota + 1
	// KindRateLimited: 2053 (quota reached), 2054 (burst), HTTP 429. Retried after a backoff,
	// and the endpoint's pace is lowered.
	KindRateLimited
	// KindTokenExpired: 2008. The token is refreshed once and the call retried.
	KindTokenExpired
	// KindConfig: credentials, permissions, IP whitelist, base URL. Fixing it takes a person.
	KindConfig
	// KindInvalid: the API refused the request itself (4xxxx and other codes): a bug or an
	// unsupported parameter.
	KindInvalid
	// KindNotFound: the order does not exist (an empty detail, no list item).
	KindNotFound
	// KindMalformed: a reply that says code 0 but whose data cannot be read (cut short,
	// not JSON). The API answered for this order; a few attempts, then the order is the
	// caller's to queue.
	KindMalformed
)

var kindNames = [...]string{
	KindTransient:    "transient",
	KindRateLimited:  "rate limited",
	KindTokenExpired: "token expired",
	KindConfig:       "configuration",
	KindInvalid:      "invalid request",
	KindNotFound:     "not found",
	KindMalformed:    "malformed reply",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Sentinel errors, one per Kind: errors.Is(err, fetch.ErrConfig) reports whether err is (or
// wraps) an *APIError of kind Config.
var (
	ErrTransient    = errors.New("xiaoe: transient error")
	ErrRateLimited  = errors.New("xiaoe: rate limited")
	ErrTokenExpired = errors.New("xiaoe: access token expired")
	ErrConfig       = errors.New("xiaoe: configuration error")
	ErrInvalid      = errors.New("xiaoe: invalid request")
	ErrNotFound     = errors.New("xiaoe: not found")
	ErrMalformed    = errors.New("xiaoe: malformed reply")
	// ErrNoToken is wrapped by the error of a call that could not get an access token.
	ErrNoToken = errors.New("no access token")
)

func (k Kind) sentinel() error {
	switch k {
	case KindTransient:
		return ErrTransient
	case KindRateLimited:
		return ErrRateLimited
	case KindTokenExpired:
		return ErrTokenExpired
	case KindConfig:
		return ErrConfig
	case KindInvalid:
		return ErrInvalid
	case KindNotFound:
		return ErrNotFound
	case KindMalformed:
		return ErrMalformed
	}
	return nil
}

// APIError is a failed call: an API code other than 0, an HTTP error, or a transport
// failure. Its text never holds a credential.
type APIError struct {
	Endpoint   string // EndpointToken, EndpointList or EndpointDetail
	Code       int    // the API's code; 0 when the reply carried none
	Msg        string // the API's msg, or the start of a reply that was not JSON
	HTTPStatus int    // 0 when no reply came
	Kind       Kind
	// Todo says what to do about it, for the kinds that need a person (KindConfig, KindInvalid).
	Todo string
	// Err is the cause of a transport failure (its URL sanitized), or nil.
	Err error
	// Reply is the body of the reply as received, or nil when none came. It may hold the
	// data of an order; it is never part of the error's text.
	Reply []byte

	retryAfter time.Duration // the reply's Retry-After, if any
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("xiaoe ")
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	switch {
	case e.Code != 0:
		fmt.Fprintf(&b, "code %d", e.Code)
		if e.Msg != "" {
			fmt.Fprintf(&b, " %q", e.Msg)
		}
		if w := codeMeaning(e.Code); w != "" {
			b.WriteString(" (")
			b.WriteString(w)
			b.WriteString(")")
		}
	case e.HTTPStatus != 0 && e.HTTPStatus != http.StatusOK:
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
		if e.Msg != "" {
			fmt.Fprintf(&b, " %q", e.Msg)
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString(e.Msg)
	}
	fmt.Fprintf(&b, " [%s]", e.Kind)
	if e.Todo != "" {
		b.WriteString(": ")
		b.WriteString(e.Todo)
	}
	return b.String()
}

// Unwrap gives errors.Is the kind's sentinel and the cause.
func (e *APIError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if s := e.Kind.sentinel(); s != nil {
		errs = append(errs, s)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// codeClass is one row of the classification table.
type codeClass struct {
	kind Kind
	what string // what the code means
	todo string // what to do, for codes a person must fix
}

const (
	consoleHint = "the 云服务控制台 (https://admin.cloud.xiaoe-tech.com)"
	bugHint     = "this is a bug in ordersync's Xiaoe client: report it with this message"
)

// codeTable classifies every documented API code (shared/xiaoe/return-codes.md). Codes not
// in it are classified by classifyCode.
var codeTable = map[int]codeClass{
	1001: {KindTransient, "system busy", ""},
	1002: {KindTransient, "the API's backend answered badly", ""},
	2001: {KindConfig, "app_id missing", "set XE_APP_ID to the shop's app id"},
	2002: {KindConfig, "app_id wrong", "check XE_APP_ID against the shop's app id in " + consoleHint},
	2003: {KindConfig, "secret_key missing", "set XE_SECRET_KEY"},
	2004: {KindConfig, "secret_key wrong or app_id invalid", "compare XE_SECRET_KEY and XE_APP_ID with " + consoleHint},
	2005: {KindConfig, "grant_type missing", bugHint},
	2006: {KindConfig, "grant_type wrong", bugHint},
	2007: {KindInvalid, "access_token missing", bugHint},
	2008: {KindTokenExpired, "access_token expired or unknown", ""},
	2009: {KindInvalid, "user_id missing", bugHint},
	2010: {KindInvalid, "user_id invalid", bugHint},
	2017: {KindConfig, "no permission for this API", "grant the client the permission set 订单管理-查询 in " + consoleHint},
	2020: {KindConfig, "client_id invalid", "check XE_CLIENT_ID against " + consoleHint},
	2051: {KindConfig, "IP not whitelisted", "whitelist this server's public IP address for the API in " + consoleHint},
	2052: {KindConfig, "no such API", "check XE_BASE_URL (normally https://api.xiaoe-tech.com)"},
	2053: {KindRateLimited, "call quota reached", ""},
	2054: {KindRateLimited, "burst of calls refused", ""},
	2055: {KindConfig, "wrong HTTP method", "check XE_BASE_URL: something between here and the API rewrites requests, or " + bugHint},
}

// classifyCode is the classification of an API code other than 0.
func classifyCode(code int) codeClass {
	if c, ok := codeTable[code]; ok {
		return c
	}
	switch {
	case code >= 40000 && code < 50000:
		return codeClass{KindInvalid, "request refused", "the API refused a request parameter; see its message: " + bugHint}
	case code < 0:
		// return-codes.md: signature and permission failures are negative.
		return codeClass{KindConfig, "signature or permission refused", "check XE_APP_ID, XE_CLIENT_ID, XE_SECRET_KEY and the client's permissions in " + consoleHint}
	}
	return codeClass{KindInvalid, "", "an API code this client does not know; see its message"}
}

func codeMeaning(code int) string { return classifyCode(code).what }

// classifyHTTP is the classification of a reply that carries no API envelope: an HTTP error
// status, or a 200 whose body is not JSON. Like the API's codes, only what may pass is
// transient: a gateway that cannot reach the API, a timeout, a busy server. A status that
// says the request itself will never be served (501, 505) fails at once.
func classifyHTTP(endpoint string, status int) codeClass {
	switch {
	case status == http.StatusTooManyRequests:
		return codeClass{KindRateLimited, "too many requests", ""}
	case status == http.StatusNotImplemented, status == http.StatusHTTPVersionNotSupported:
		return codeClass{KindConfig, "not served", "check XE_BASE_URL (normally https://api.xiaoe-tech.com): the server there does not serve this API"}
	case status == http.StatusNetworkAuthenticationRequired:
		return codeClass{KindConfig, "a network login is required", "this server's network wants a login before it reaches the API"}
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusOK:
		return codeClass{KindTransient, "", ""}
	case status == http.StatusNotFound && endpoint == EndpointToken:
		// The token path has been seen answering 404 for a while and then working again
		// (api-notes §1): not a configuration error, unless it lasts.
		return codeClass{KindTransient, "", "if it lasts, check XE_BASE_URL (normally https://api.xiaoe-tech.com)"}
	case status == http.StatusNotFound:
		return codeClass{KindConfig, "no such path", "check XE_BASE_URL (normally https://api.xiaoe-tech.com)"}
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return codeClass{KindConfig, "refused", "check the credentials and this server's IP whitelisting in " + consoleHint}
	}
	return codeClass{KindInvalid, "", "an HTTP status this client does not expect; check XE_BASE_URL"}
}

// ErrIsolated is wrapped by the error of a call that failed after its retries while another
// call of the same client succeeded after its last attempt was sent: the failure is this
// call's (one order's reply), not the API's as a whole.
var ErrIsolated = errors.New("xiaoe: other calls succeeded meanwhile")

// RetryError is a call that failed after retries.
type RetryError struct {
	Attempts int
	Elapsed  time.Duration
	// Isolated says that another call of the client succeeded after this one's last
	// attempt was sent.
	Isolated bool
	Err      error // the last attempt's error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (after %d attempts in %s)", e.Err, e.Attempts, e.Elapsed.Round(time.Millisecond))
}

func (e *RetryError) Unwrap() []error {
	if e.Isolated {
		return []error{e.Err, ErrIsolated}
	}
	return []error{e.Err}
}

// CountMismatchError reports a window whose listed orders do not add up to the API's total.
type CountMismatchError struct {
	Window Window
	Total  int // what the API said
	Got    int // distinct orders received
}

func (e *CountMismatchError) Error() string {
	return fmt.Sprintf("list %s: got %d orders, but the API's total is %d", e.Window, e.Got, e.Total)
}

// TooLargeError reports a window with more orders than the caller wants to page through.
type TooLargeError struct {
	Window Window
	Total  int // the API's total for the window
	Max    int // the limit the caller gave
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("list %s: %d orders, more than %d: split the window", e.Window, e.Total, e.Max)
}
