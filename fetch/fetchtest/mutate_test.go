package fetchtest

import (
	"testing"
	"time"
)

// TestMutateManyRounds: orders changed round after round stay servable: a change never
// needs what an earlier one took away (a shrunken order's address).
func TestMutateManyRounds(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	s := New(Options{Seed: 31, Orders: 1500, From: now.AddDate(0, 0, -20), To: now})
	for i := range 6 {
		s.Mutate(750, now.Add(time.Duration(i+1)*time.Minute))
	}
	if n := len(s.Orders()); n != 1500 {
		t.Fatalf("%d orders after the rounds", n)
	}
}
