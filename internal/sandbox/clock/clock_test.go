package clock

import (
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(t0)
	f.Advance(90 * time.Second)
	if got := f.Now(); !got.Equal(t0.Add(90 * time.Second)) {
		t.Fatalf("Advance: %v", got)
	}
	f.Set(t0)
	if !f.Now().Equal(t0) {
		t.Fatal("Set")
	}
	if Or(f) != Clock(f) {
		t.Fatal("Or replaced a clock")
	}
	if _, ok := Or(nil).(Real); !ok {
		t.Fatal("Or(nil) is not the real clock")
	}
}
