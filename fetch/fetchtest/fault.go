package fetchtest

import "net/http"

// Fault is a way the detail reply of one order is bad on every call, until cleared: what a
// sync must survive by setting that order aside and going on. The other orders are served
// as usual, and the API's own answers (rate limit, token, busy) come first.
type Fault int

const (
	// FaultNone: the order's detail is served as it is.
	FaultNone Fault = iota
	// FaultBroken: code 0 with a corrupt payload: a field of the wrong type
	// ("unit_price":"abc") for some orders, invalid JSON for others (by a hash of the id).
	FaultBroken
	// FaultTruncated: HTTP 200 and the order's reply cut halfway through its data object:
	// {"code":0,"msg":"success","data":{"buyer_info":{… and no end. The cut body is all
	// that HTTP delivers (its Content-Length), so a client reads it whole and finds it is
	// not JSON.
	FaultTruncated
	// FaultNotJSON: HTTP 200 with an HTML page.
	FaultNotJSON
	// FaultNoEnvelope: HTTP 200 with a JSON object that has no code.
	FaultNoEnvelope
	// FaultRefused: HTTP 200 with code 40001 and its msg.
	FaultRefused
	// FaultHTTPError: HTTP 500 with an HTML page.
	FaultHTTPError
)

const (
	notJSONPage = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>系统维护</title></head>\n" +
		"<body><p>系统维护中，请稍后再试</p></body></html>\n"
	noEnvelope = `{"error":"order service unavailable"}`
)

// SetFault makes the detail replies of these orders bad in the way f says, or, with
// FaultNone, good again. Other orders keep their faults.
func (s *Shop) SetFault(f Fault, ids ...string) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for _, id := range ids {
		if f == FaultNone {
			delete(s.faults, id)
		} else {
			s.faults[id] = f
		}
	}
}

// SetBroken makes the detail payloads of exactly these orders corrupt (FaultBroken),
// mending those it made corrupt before. Other faults stay.
func (s *Shop) SetBroken(ids ...string) {
	s.fmu.Lock()
	for id, f := range s.faults {
		if f == FaultBroken {
			delete(s.faults, id)
		}
	}
	s.fmu.Unlock()
	s.SetFault(FaultBroken, ids...)
}

func (s *Shop) fault(id string) Fault {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults[id]
}

// serveFault answers a detail call for an order under a fault other than FaultBroken,
// whose payload is served as a success. detail is the order's data object.
func (s *Shop) serveFault(w http.ResponseWriter, f Fault, detail []byte) {
	ep := EndpointDetail
	switch f {
	case FaultTruncated:
		body := envelope(0, "success", detail)
		body = body[:len(body)-1-len(detail)/2] // half the data object, and no end to it
		s.answer(w, ep, http.StatusOK, "application/json; charset=utf-8", body)
	case FaultNotJSON:
		s.answer(w, ep, http.StatusOK, "text/html; charset=utf-8", []byte(notJSONPage))
	case FaultNoEnvelope:
		s.answer(w, ep, http.StatusOK, "application/json; charset=utf-8", []byte(noEnvelope))
	case FaultRefused:
		s.reply(w, ep, 40001, codeMsg(40001), nil)
	case FaultHTTPError:
		s.htmlError(w, ep, http.StatusInternalServerError)
	}
}
