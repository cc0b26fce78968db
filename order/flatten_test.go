package order

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixture is a file of testdata/orders: one order's detail data and its list item.
type fixture struct {
	Detail   json.RawMessage `json:"detail"`
	ListItem json.RawMessage `json:"list_item"`
}

func readFixture(t *testing.T, path string) fixture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return fx
}

// render shows rows as the tables would hold them: one object per row, by column name.
func render(r *Rows) []byte {
	out := map[string][]map[string]any{}
	for _, t := range Tables {
		for _, row := range r[t.ID] {
			obj := map[string]any{}
			for i, c := range t.Columns {
				v := row[i]
				if tm, ok := v.(time.Time); ok {
					if c.Type == "date" {
						v = tm.Format(time.DateOnly)
					} else {
						v = tm.In(Shanghai).Format(time.RFC3339)
					}
				}
				obj[c.Name] = v
			}
			out[t.Name] = append(out[t.Name], obj)
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// TestFlattenGolden flattens every fixture and compares the rows with its golden file.
// Run with -update after a deliberate mapping change, and read the diff.
func TestFlattenGolden(t *testing.T) {
	files, err := filepath.Glob("../testdata/orders/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if strings.HasPrefix(name, "bad_") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			fx := readFixture(t, f)
			d, err := Decode(fx.Detail)
			if err != nil {
				t.Fatal(err)
			}
			got := render(Flatten(d, time.Date(2026, 1, 1, 0, 0, 0, 0, Shanghai)))
			golden := filepath.Join("../testdata/golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./order -run TestFlattenGolden -update)", err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("rows differ from %s (-want +got):\n%s", golden, cmp.Diff(string(want), string(got)))
			}
		})
	}
}

func TestBadFixtureNamesTheField(t *testing.T) {
	fx := readFixture(t, "../testdata/orders/bad_unit_price.json")
	_, err := Decode(fx.Detail)
	var de *DecodeError
	if !errors.As(err, &de) || de.Path != "goods_info.goods_list.unit_price" {
		t.Errorf("Decode = %v, want an error at goods_info.goods_list.unit_price", err)
	}
}

// BenchmarkDecodeFlatten measures the CPU cost of one realistic order, beside a plain
// encoding/json decode of the same payload into a map as the reference.
func BenchmarkDecodeFlatten(b *testing.B) {
	b.ReportAllocs()
	raw, err := os.ReadFile("../testdata/orders/physical_shipped.json")
	if err != nil {
		b.Fatal(err)
	}
	var fx fixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		b.Fatal(err)
	}
	b.Run("decode+flatten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := Decode(fx.Detail)
			if err != nil {
				b.Fatal(err)
			}
			_ = Flatten(d, time.Time{})
		}
	})
	b.Run("baseline=json-map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(fx.Detail, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
