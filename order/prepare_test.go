package order

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPrepare(t *testing.T) {
	updated := time.Date(2026, 3, 1, 10, 0, 0, 0, Shanghai)
	for _, tc := range []struct {
		name    string
		p       Payload
		wantErr string // "" for success
		decode  bool   // the error is a *DecodeError
	}{
		{"ok", Payload{OrderID: "o_1", UpdateTime: updated, Detail: []byte(`{"order_info":{"order_id":"o_1","order_state":4}}`)}, "", false},
		{"no id in the detail is this order's", Payload{OrderID: "o_1", Detail: []byte(`{"order_info":{"order_state":4}}`)}, "", false},
		{"no order id", Payload{Detail: []byte(`{}`)}, "no order id", false},
		{"another order's detail", Payload{OrderID: "o_1", Detail: []byte(`{"order_info":{"order_id":"o_2"}}`)}, "order o_2", false},
		{"wrong type", Payload{OrderID: "o_1", Detail: []byte(`{"goods_info":{"goods_list":[{"unit_price":"abc"}]}}`)}, "goods_info.goods_list.unit_price", true},
		{"cut short", Payload{OrderID: "o_1", Detail: []byte(`{"buyer_info":{"av`)}, "decode order detail", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Prepare(tc.p)
			if tc.wantErr != "" {
				var de *DecodeError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.As(err, &de) != tc.decode {
					t.Fatalf("Prepare = %v, want an error with %q (decode error: %t)", err, tc.wantErr, tc.decode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rows := got.Rows[TOrders]
			if len(rows) != 1 || rows[0][0] != tc.p.OrderID {
				t.Fatalf("orders rows = %v, want one keyed %s", rows, tc.p.OrderID)
			}
			last := rows[0][len(rows[0])-1]
			if tc.p.UpdateTime.IsZero() != (last == nil) || got.Hash != Hash(tc.p.Detail) {
				t.Errorf("update_time %v, hash equal %t", last, got.Hash == Hash(tc.p.Detail))
			}
		})
	}
}
