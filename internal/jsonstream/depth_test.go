package jsonstream

import (
	"strings"
	"testing"
)

func TestTooDeep(t *testing.T) {
	nest := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	tests := []struct {
		in   string
		want bool
	}{
		{nest(3), false},
		{nest(4), true},
		{`[[["x"]]]`, false},
		{`[[[[1]]]]`, true},
		{`{"s":"[[[[[[[[{{{{{{"}`, false}, // brackets inside strings do not count
		{`{"s":"\"[[[[[[\\"}`, false},     // nor after escaped quotes
		{`{"s":"unterminated [[[[[[`, false},
	}
	for _, tt := range tests {
		if got := TooDeep([]byte(tt.in), 3); got != tt.want {
			t.Errorf("TooDeep(%s, 3) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if !TooDeep([]byte(nest(100000)), MaxDepth) {
		t.Error("100,000 levels not caught")
	}
}
