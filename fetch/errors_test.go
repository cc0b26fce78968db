package fetch_test

import (
	"errors"
	"strings"
	"testing"

	"ordersync/fetch"
)

func TestAPIErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		kind     fetch.Kind
		sentinel error
	}{
		{fetch.KindTransient, fetch.ErrTransient},
		{fetch.KindRateLimited, fetch.ErrRateLimited},
		{fetch.KindTokenExpired, fetch.ErrTokenExpired},
		{fetch.KindConfig, fetch.ErrConfig},
		{fetch.KindInvalid, fetch.ErrInvalid},
		{fetch.KindNotFound, fetch.ErrNotFound},
	} {
		var err error = &fetch.APIError{Endpoint: fetch.EndpointDetail, Code: 1, Kind: tc.kind}
		err = errors.Join(errors.New("context"), err)
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("errors.Is(%s error, its sentinel) = false", tc.kind)
		}
		if errors.Is(err, fetch.ErrConfig) != (tc.kind == fetch.KindConfig) {
			t.Errorf("errors.Is(%s error, ErrConfig) is wrong", tc.kind)
		}
		var ae *fetch.APIError
		if !errors.As(err, &ae) || ae.Kind != tc.kind {
			t.Errorf("errors.As(%s error) = %v", tc.kind, ae)
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  *fetch.APIError
		want []string
	}{
		{&fetch.APIError{Endpoint: fetch.EndpointDetail, Code: 2051, Msg: "ip not in white list", Kind: fetch.KindConfig, Todo: "whitelist this server's public IP"},
			[]string{fetch.EndpointDetail, "2051", "ip not in white list", "IP not whitelisted", "configuration", "whitelist this server's public IP"}},
		{&fetch.APIError{Endpoint: fetch.EndpointList, HTTPStatus: 502, Msg: "502 Bad Gateway", Kind: fetch.KindTransient},
			[]string{"HTTP 502", "Bad Gateway", "transient"}},
	} {
		got := tc.err.Error()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("Error() = %q, want it to contain %q", got, w)
			}
		}
	}
}
