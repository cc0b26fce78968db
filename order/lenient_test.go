package order

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Each decoding quirk the API is documented or seen to have, one case each.
func TestLenientScalars(t *testing.T) {
	sh := func(s string) any {
		v, err := time.ParseInLocation(time.DateTime, s, Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		into interface {
			json.Unmarshaler
			sqlValuer
		}
		in   string
		want any // SQL value; nil is NULL
	}{
		{"string", new(Str), `"小鹅"`, "小鹅"},
		{"empty string is NULL", new(Str), `""`, nil},
		{"-- is NULL", new(Str), `"--"`, nil},
		{"null string", new(Str), `null`, nil},
		{"number into string", new(Str), `3727365556057810176`, "3727365556057810176"},
		{"array into string", new(Str), `[ "a", 1 ]`, `["a",1]`},
		{"empty array into string", new(Str), `[]`, nil},
		{"int", new(Int), `3`, int64(3)},
		{"int as string", new(Int), `"3"`, int64(3)},
		{"int as float with zero fraction", new(Int), `3.0`, int64(3)},
		{"negative int", new(Int), `-1`, int64(-1)},
		{"int empty string", new(Int), `""`, nil},
		{"int null", new(Int), `null`, nil},
		{"int --", new(Int), `"--"`, nil},
		{"int from bool", new(Int), `true`, int64(1)},
		{"fen", new(Fen), `9900`, int64(9900)},
		{"fen as string", new(Fen), `"9900"`, int64(9900)},
		{"fen beyond 2^53", new(Fen), `9007199254740993`, int64(9007199254740993)},
		{"bool", new(Bool), `true`, true},
		{"bool as 0", new(Bool), `0`, false},
		{"bool as \"1\"", new(Bool), `"1"`, true},
		{"bool null", new(Bool), `null`, nil},
		{"ratio", new(Ratio), `0.35`, 0.35},
		{"ratio as string", new(Ratio), `"0.2"`, 0.2},
		{"time", new(Time), `"2022-11-14 02:32:11"`, sh("2022-11-14 02:32:11")},
		{"time 0000 sentinel", new(Time), `"0000-00-00 00:00:00"`, nil},
		{"time 0001 sentinel", new(Time), `"0001-01-01 00:00:00"`, nil},
		{"time -0001 sentinel", new(Time), `"-0001-11-30 00:00:00"`, nil},
		{"time empty", new(Time), `""`, nil},
		{"time --", new(Time), `"--"`, nil},
		{"time as unix seconds", new(Time), `1668364331`, sh("2022-11-14 02:32:11")},
		{"time as quoted unix seconds", new(Time), `"1668364331"`, sh("2022-11-14 02:32:11")},
		{"time as 0", new(Time), `0`, nil},
		{"time RFC 3339", new(Time), `"2022-11-13T18:32:11Z"`, sh("2022-11-14 02:32:11")},
		{"date", new(Date), `"2014-03-09"`, time.Date(2014, 3, 9, 0, 0, 0, 0, time.UTC)},
		{"date zero", new(Date), `"0000-00-00"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tt.in), tt.into); err != nil {
				t.Fatalf("unmarshal %s: %v", tt.in, err)
			}
			got := tt.into.SQL()
			if gt, ok := got.(time.Time); ok {
				if wt, ok := tt.want.(time.Time); !ok || !gt.Equal(wt) {
					t.Errorf("%s: got %v, want %v", tt.in, got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Errorf("%s: got %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestLenientRefuses(t *testing.T) {
	tests := []struct {
		name string
		into any
		in   string
	}{
		{"int from letters", new(Int), `"abc"`},
		{"int with a fraction", new(Int), `12.5`},
		{"int beyond int32", new(Int), `3000000000`},
		{"fen with a fraction (yuan?)", new(Fen), `"0.03"`},
		{"fen from an object", new(Fen), `{"a":1}`},
		{"bool from a word", new(Bool), `"yes"`},
		{"time from words", new(Time), `"yesterday"`},
		{"time from a bare date number", new(Time), `"20221114"`},
		{"list from a number", new(List[Discount]), `7`},
		{"list from a word", new(List[Discount]), `"none"`},
		{"section from a number", new(BuyerInfo), `7`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tt.in), tt.into)
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				t.Errorf("unmarshal %s: err = %v, want a type error", tt.in, err)
			}
		})
	}
}

func TestSectionsAndListsMeaningNothing(t *testing.T) {
	for _, empty := range []string{`null`, `""`, `[]`, `{}`} {
		in := `{"order_info":{"order_id":"o_1"},"buyer_info":` + empty + `,"goods_info":{"goods_list":` + empty +
			`},"internal_extra_info":{"logistics_info":{"packages_info":[{"express_id":"SF1","package_trace_info":` + empty + `}]}}}`
		d, err := Decode([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", empty, err)
		}
		r := Flatten(d, time.Time{})
		got := map[string]int{}
		for _, tab := range Tables {
			if n := len(r[tab.ID]); n > 0 {
				got[tab.Name] = n
			}
		}
		want := map[string]int{"orders": 1, "order_packages": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: rows per table (-want +got):\n%s", empty, diff)
		}
	}
}

func TestListInAString(t *testing.T) {
	in := `{"goods_info":{"goods_list":[{"paid_coupon_info":"[{\"coupon_code\":\"C1\"}]"}, []]}}`
	d, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.GoodsInfo.GoodsList[0].PaidCouponInfo; len(got) != 1 || got[0].CouponCode != "C1" {
		t.Errorf("paid_coupon_info from a string = %+v", got)
	}
	if len(d.GoodsInfo.GoodsList) != 2 {
		t.Errorf("a goods line sent as [] must decode as an empty line")
	}
}

func TestUnknownFieldsAreTolerated(t *testing.T) {
	in := `{"order_info":{"order_id":"o_1","brand_new":{"x":[1,2]}},"new_section_2026":{"a":1},
		"goods_info":{"goods_list":[{"goods_name":"书","mystery":true}]}}`
	d, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if d.GoodsInfo.GoodsList[0].GoodsName != "书" {
		t.Errorf("goods name = %q", d.GoodsInfo.GoodsList[0].GoodsName)
	}
}

func TestDecodeErrorNamesThePath(t *testing.T) {
	tests := []struct{ in, path string }{
		{`{"goods_info":{"goods_list":[{"unit_price":"abc"}]}}`, "goods_info.goods_list.unit_price"},
		{`{"internal_extra_info":{"refund_info":{"refund_records":[{"goods_info":{"quantity":"x"}}]}}}`,
			"internal_extra_info.refund_info.refund_records.goods_info.quantity"},
		{`{"order_info":{"order_create_time":"soon"}}`, "order_info.order_create_time"},
		{`{"price_info":{"gross_total":1.5}}`, "price_info.gross_total"},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.in))
		var de *DecodeError
		if !errors.As(err, &de) || de.Path != tt.path {
			t.Errorf("Decode(%s) = %v, want an error at %s", tt.in, err, tt.path)
		}
	}
	_, err := Decode([]byte(`{"order_info":`))
	var de *DecodeError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("truncated JSON: %v", err)
	}
}

func TestPlaceholderElementsAreNoRows(t *testing.T) {
	in := `{"order_info":{"order_id":"o_1"},
		"goods_info":{"goods_list":[{"goods_name":"","quantity":0,"discounts_info":{"coupons_list":[{"discount_amount":0,"discount_name":""}]}},
			{"goods_name":"书","quantity":1}],"has_result":true},
		"buyer_info":{"has_result":false,"nickname":""},
		"invoice_info":{"has_result":true}}`
	d, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	r := Flatten(d, time.Time{})
	if n := len(r[TGoods]); n != 1 || r[TGoods][0][1] != 1 {
		t.Errorf("goods rows = %v, want only line_no 1", r[TGoods])
	}
	if len(r[TGoodsDiscounts]) != 0 || len(r[TBuyers]) != 0 {
		t.Errorf("placeholder rows kept: discounts %v, buyers %v", r[TGoodsDiscounts], r[TBuyers])
	}
	if len(r[TInvoices]) != 1 {
		t.Errorf("a section with has_result true but no fields must be a row: %v", r[TInvoices])
	}
}

func TestHashIgnoresWhitespace(t *testing.T) {
	a := Hash([]byte(`{"a": 1, "b": [1, 2]}`))
	b := Hash([]byte(`{"a":1,"b":[1,2]}`))
	c := Hash([]byte(`{"a":1,"b":[2,1]}`))
	if a != b || a == c {
		t.Errorf("hash: whitespace must not matter, content must")
	}
}

// TestHashIsStable compares each fixture's hash with the one in testdata/golden/hashes.txt.
// Stored orders keep the hash of their payload: should the hash of equal content change,
// every order would look changed to the next run and be written again.
func TestHashIsStable(t *testing.T) {
	files, err := filepath.Glob("../testdata/orders/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var got strings.Builder
	for _, f := range files {
		fx := readFixture(t, f)
		fmt.Fprintf(&got, "%s %x\n", filepath.Base(f), Hash(fx.Detail))
	}
	// As PHP's json_encode writes by default: "/" and all but ASCII escaped.
	for _, c := range []struct{ name, in string }{
		{"escapes", `{ "goods_name" : "\u5c0f\u9e45\u901a", "url": "https:\/\/x.cn\/a", "q": "\"\\\n", "n": [ 1.50, -0, 1e3 ] }`},
		{"raw-text", "{\"a\": \"\u2028 \xff\", \"b\":\t{}}"},
	} {
		fmt.Fprintf(&got, "%s %x\n", c.name, Hash([]byte(c.in)))
	}
	golden := "../testdata/golden/hashes.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("hashes differ from %s (-want +got):\n%s", golden, diff)
	}
}
