package fetch

import (
	"context"
	"testing"
	"time"
)

// TestPacerKeepsTheWindowAfterCatchingUp: calls that the bucket lets follow close on a
// late one (it catches up on the timer's lateness) still never put more calls into a
// second than the pace allows, counted from when they were let go.
func TestPacerKeepsTheWindowAfterCatchingUp(t *testing.T) {
	pace := 19.6 // 20 calls/s less a headroom of 0.02
	p := newPacer(pace, 1, time.Second)
	// 19 calls at the pace, then one let go 21 ms late and a full bucket: at the pace
	// alone the next call could follow at once, the 21st within 1.00 s of the first.
	now := time.Now()
	gap := time.Duration(float64(time.Second) / pace)
	first := now.Add(-19*gap - 21*time.Millisecond)
	for i := range 19 {
		p.granted = append(p.granted, first.Add(time.Duration(i)*gap))
	}
	p.granted = append(p.granted, now)
	p.tokens, p.at = 1, now

	want := first.Add(time.Duration(float64(20) / pace * float64(time.Second)))
	if _, _, err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.granted[len(p.granted)-1]; got.Before(want) {
		t.Errorf("the 21st call went %v after the first, want at least %v", got.Sub(first), want.Sub(first))
	}
	if n := len(p.granted); n > 21 {
		t.Errorf("the pacer keeps %d grant times, want the last 20 or so", n)
	}
}

// TestPacerWindowFollowsTheShare: the count of the window is the ceiling's, so that a
// share of the rate is a share of every second too.
func TestPacerWindowFollowsTheShare(t *testing.T) {
	full := 19.6
	p := newPacer(full, 1, time.Second)
	p.share(2) // 9.8 calls/s: at most 10 calls in 10/9.8 s
	now := time.Now()
	for i := range 12 {
		p.granted = append(p.granted, now.Add(time.Duration(i)*time.Millisecond))
	}
	opens := p.windowOpens()
	if len(p.granted) != 10 {
		t.Fatalf("kept %d grant times, want 10", len(p.granted))
	}
	if want := p.granted[0].Add(time.Duration(10 / (full / 2) * float64(time.Second))); opens.Sub(want).Abs() > time.Millisecond {
		t.Errorf("window opens %v after the oldest kept call, want %v", opens.Sub(p.granted[0]), want.Sub(p.granted[0]))
	}
}

// TestTokenPacerHasNoWindow: the token call's bucket may be spent at once; no count of a
// second holds it back.
func TestTokenPacerHasNoWindow(t *testing.T) {
	p := newPacer(tokenRate, tokenBurst, 0)
	p.tokens, p.at = tokenBurst, time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := range tokenBurst {
		if _, _, err := p.wait(ctx); err != nil {
			t.Fatalf("call %d of a full bucket: %v", i+1, err)
		}
	}
	if len(p.granted) != 0 {
		t.Errorf("kept %d grant times with no window to check them against", len(p.granted))
	}
}

// TestPacerCountsCallsFromWhenSent: a call written out late is counted from then, so the
// 20 calls after it keep their distance from it on the way to the API too.
func TestPacerCountsCallsFromWhenSent(t *testing.T) {
	pace := 19.6
	p := newPacer(pace, 1, time.Second)
	now := time.Now()
	gap := time.Duration(float64(time.Second) / pace)
	first := now.Add(-20 * gap)
	for i := range 20 {
		p.granted = append(p.granted, first.Add(time.Duration(i)*gap))
	}
	p.grants = 20
	late := first.Add(15 * time.Millisecond)
	p.sent(0, late) // the oldest call left 15 ms after its turn
	p.sent(25, now) // not a call of this pacer's: changes nothing
	p.tokens, p.at = 1, now

	want := late.Add(time.Duration(float64(20) / pace * float64(time.Second)))
	if _, _, err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.granted[len(p.granted)-1]; got.Before(want) {
		t.Errorf("the 21st call went %v after the first was sent, want at least %v", got.Sub(late), want.Sub(late))
	}
}
