package fetchtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

// TestOrderFaults gives one order each fault and checks what a client receives for it, on
// every call, while its neighbour is served as usual; then clears it.
func TestOrderFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fault  fetchtest.Fault
		status int
		code   int // in Stats: the API code, or -HTTP status
		check  func(t *testing.T, body []byte, full []byte)
	}{
		{"Truncated", fetchtest.FaultTruncated, 200, -200, func(t *testing.T, body, full []byte) {
			if json.Valid(body) || !bytes.HasPrefix(full, body) || !bytes.HasPrefix(body, []byte(`{"code":0,"msg":"success","data":{`)) {
				t.Errorf("want the start of the order's reply, cut inside its data: %.80s", body)
			}
		}},
		{"NotJSON", fetchtest.FaultNotJSON, 200, -200, func(t *testing.T, body, _ []byte) {
			if json.Valid(body) || !bytes.Contains(body, []byte("<html>")) {
				t.Errorf("want an HTML page: %.80s", body)
			}
		}},
		{"NoEnvelope", fetchtest.FaultNoEnvelope, 200, -200, func(t *testing.T, body, _ []byte) {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(body, &obj); err != nil || obj["code"] != nil || len(obj) == 0 {
				t.Errorf("want a JSON object without code: %s", body)
			}
		}},
		{"Refused", fetchtest.FaultRefused, 200, 40001, func(t *testing.T, body, _ []byte) {
			var env envelope
			if json.Unmarshal(body, &env) != nil || env.Code != 40001 || env.Msg == "" || string(env.Data) != "null" {
				t.Errorf("want code 40001 with a msg: %s", body)
			}
		}},
		{"HTTPError", fetchtest.FaultHTTPError, 500, -500, func(t *testing.T, body, _ []byte) {
			if !bytes.Contains(body, []byte("<html>")) {
				t.Errorf("want an HTML page: %.80s", body)
			}
		}},
		{"Broken", fetchtest.FaultBroken, 200, 0, func(t *testing.T, body, _ []byte) {
			var env envelope
			if json.Unmarshal(body, &env) == nil {
				if _, err := order.Decode(env.Data); err == nil {
					t.Errorf("want a payload that does not decode: %.80s", body)
				}
			} else if !bytes.HasPrefix(body, []byte(`{"code":0,`)) {
				t.Errorf("want code 0 first: %.80s", body)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, fetchtest.Options{Orders: 2, Rate: -1})
			tok := a.goodToken()
			truth := a.srv.Orders()
			bad, good := truth[0], truth[1]
			call := func(id string) (int, []byte) {
				t.Helper()
				resp, err := http.Post(a.srv.URL()+"/"+fetchtest.EndpointDetail, "application/json",
					strings.NewReader(`{"access_token":"`+tok+`","order_id":"`+id+`"}`))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("reading the reply: %v", err)
				}
				return resp.StatusCode, body
			}
			_, full := call(bad.ID)

			a.srv.ResetStats()
			a.srv.SetFault(tc.fault, bad.ID)
			for range 3 {
				status, body := call(bad.ID)
				if status != tc.status {
					t.Errorf("HTTP %d, want %d", status, tc.status)
				}
				tc.check(t, body, full)
			}
			st := a.srv.Stats()
			if got := st.Codes[fetchtest.EndpointDetail][tc.code]; got != 3 || st.DetailCalls[bad.ID] != 3 {
				t.Errorf("stats: code %d counted %d times, %d calls, want 3: %v", tc.code, got, st.DetailCalls[bad.ID], st.Codes)
			}
			// Only a broken payload is the order's data, however corrupt.
			if served := st.DetailServed[bad.ID]; served != 0 && tc.fault != fetchtest.FaultBroken {
				t.Errorf("stats: %d answers counted as serving the order", served)
			}
			if _, body := call(good.ID); !bytes.Equal(body, envelopeOf(good.Detail)) {
				t.Errorf("another order's detail is not its ground truth: %.80s", body)
			}

			a.srv.SetFault(fetchtest.FaultNone, bad.ID)
			if _, body := call(bad.ID); !bytes.Equal(body, full) {
				t.Errorf("cleared, the order's detail is not served as before: %.80s", body)
			}
		})
	}
}

func envelopeOf(data []byte) []byte {
	return append(append([]byte(`{"code":0,"msg":"success","data":`), data...), '}')
}

// TestSetBrokenKeepsOtherFaults: SetBroken replaces the set of broken orders, not the
// orders' other faults.
func TestSetBrokenKeepsOtherFaults(t *testing.T) {
	a := newAPI(t, fetchtest.Options{Orders: 3, Rate: -1})
	ids := orderIDs(a.srv.Orders())
	a.srv.SetBroken(ids[0])
	a.srv.SetFault(fetchtest.FaultRefused, ids[1])
	a.srv.SetBroken(ids[2])
	tok := a.goodToken()
	detail := func(id string) envelope {
		return a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok, "order_id": id})
	}
	if o, _ := a.srv.Order(ids[0]); o.Broken || detail(ids[0]).Code != 0 {
		t.Errorf("the order broken before is still broken")
	}
	if env := detail(ids[1]); env.Code != 40001 {
		t.Errorf("the refused order: code %d, want 40001", env.Code)
	}
	if o, _ := a.srv.Order(ids[2]); !o.Broken {
		t.Errorf("the order broken now is not")
	}
}

func orderIDs(orders []fetchtest.Order) []string {
	ids := make([]string, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
	}
	return ids
}
