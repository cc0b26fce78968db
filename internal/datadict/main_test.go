package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ordersync/order"
	"ordersync/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the generated files")

const root = "../.."

func TestGeneratedFilesAreCurrent(t *testing.T) {
	if *update {
		if err := write(root); err != nil {
			t.Fatal(err)
		}
	}
	files, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Errorf("%v: run go run ./internal/datadict", err)
			continue
		}
		if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
			t.Errorf("%s is out of date: run go run ./internal/datadict (-want +got):\n%s", name, diff)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct{ desc, want string }{
		{"订单状态 0-待付款 1-待成交 2-待发货", "订单状态. Values: 0 = 待付款, 1 = 待成交, 2 = 待发货"},
		{"订单类型 1-交易订单 2-导入订单 3-渠道采购订单(内容市场)4-兑换订单",
			"订单类型. Values: 1 = 交易订单, 2 = 导入订单, 3 = 渠道采购订单(内容市场), 4 = 兑换订单"},
		{"推广员订单类型: 0 非推广员订单, 1 推广员订单", "推广员订单类型. Values: 0 = 非推广员订单, 1 = 推广员订单"},
		{"退款类型:1-全额退款、2-部分退款", "退款类型. Values: 1 = 全额退款, 2 = 部分退款"},
		{"商品有效期类型 有效期类型:0-长期有效;1-具体时间前有效;2-有效期时间范围(秒)",
			"商品有效期类型 有效期类型. Values: 0 = 长期有效, 1 = 具体时间前有效, 2 = 有效期时间范围(秒)"},
		{"VIDEO:短视频 LIVE:直播", "Values: VIDEO = 短视频, LIVE = 直播"},
		// Numbers that are not a list of values stay as the docs wrote them.
		{"状态 2领取 这里只有2", "状态 2领取 这里只有2"},
		{"订单预估结算时间 视频号小店(小鹅通小店)使用字段 t(订单完成时间) 22", "订单预估结算时间 视频号小店(小鹅通小店)使用字段 t(订单完成时间) 22"},
		{"关联商品 ID (order goods id)", "关联商品 ID (order goods id)"},
		{"商品小计(实付金额 - 改价金额),单位:分", "商品小计(实付金额 - 改价金额),单位:分"},
	}
	for _, tt := range tests {
		if got := describe(tt.desc); got != tt.want {
			t.Errorf("describe(%q) = %q, want %q", tt.desc, got, tt.want)
		}
	}
}

// TestCommentsInTheDatabase migrates a database and reads the comments back: every table
// and column has one, an order column's names the API paths it holds, and the dictionary
// (so docs/schema.md) lists exactly the schema's tables and columns, with their types.
func TestCommentsInTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t, storetest.Migrated(t))
	rows, err := pool.Query(ctx, `
		SELECT c.relname, coalesce(obj_description(c.oid, 'pg_class'), ''), a.attname,
		       format_type(a.atttypid, a.atttypmod), coalesce(col_description(c.oid, a.attnum), '')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname <> 'goose_db_version'
			AND c.relname NOT LIKE 'river\_%'`) // River's own tables, which River documents
	if err != nil {
		t.Fatal(err)
	}
	type dbColumn struct{ typ, comment string }
	tableComments := map[string]string{}
	columns := map[string]dbColumn{} // by table.column
	for rows.Next() {
		var tbl, tblComment, col string
		var c dbColumn
		if err := rows.Scan(&tbl, &tblComment, &col, &c.typ, &c.comment); err != nil {
			t.Fatal(err)
		}
		tableComments[tbl] = tblComment
		c.typ = strings.Replace(c.typ, "timestamp with time zone", "timestamptz", 1)
		columns[tbl+"."+col] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name, c := range tableComments {
		if c == "" {
			t.Errorf("table %s has no comment", name)
		}
	}
	for name, c := range columns {
		if c.comment == "" {
			t.Errorf("column %s has no comment", name)
		}
	}

	fields, err := readFields(filepath.Join(root, fieldTable))
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 382 {
		t.Fatalf("field table has %d paths, want the 382 documented ones", len(fields))
	}
	for _, ot := range order.Tables {
		for _, c := range ot.Columns {
			name := ot.Name + "." + c.Name
			if len(c.Paths) == 0 {
				if !slices.Contains(ot.Keys, c.Name) && name != "orders.update_time" {
					t.Errorf("%s holds no API field and is not one of the sync's columns", name)
				}
				continue
			}
			named, _, _ := strings.Cut(columns[name].comment, ": ")
			if paths := strings.Split(named, ", "); !slices.Equal(paths, c.Paths) {
				t.Errorf("%s's comment names %q, want its paths %q", name, paths, c.Paths)
			}
			for _, p := range c.Paths {
				if _, ok := fields[p]; !ok {
					t.Errorf("%s's comment names %s, which the field table lacks", name, p)
				}
			}
		}
	}

	commented, err := readComments(os.DirFS(filepath.Join(root, migrationsDir)))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := dictionary(fields, commented)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tb := range tables {
		if got := tableComments[tb.name]; got != tb.comment() {
			t.Errorf("table %s: comment %q, the dictionary says %q", tb.name, got, tb.comment())
		}
		for _, c := range tb.columns {
			name := tb.name + "." + c.name
			listed[name] = true
			got, ok := columns[name]
			switch {
			case !ok:
				t.Errorf("the dictionary lists %s, which the schema lacks", name)
			case got.typ != c.typ:
				t.Errorf("%s is %s, the dictionary says %s", name, got.typ, c.typ)
			case got.comment != c.comment():
				t.Errorf("%s: comment %q, the dictionary says %q", name, got.comment, c.comment())
			}
		}
	}
	for name := range columns {
		if !listed[name] {
			t.Errorf("the schema has %s, which the dictionary lacks", name)
		}
	}
}
