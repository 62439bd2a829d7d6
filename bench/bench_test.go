package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/coolkey-go/coolkey-go/tps"
)

func TestParseSCardCounts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]uint64
		pcscd   uint64
		wantErr bool
	}{
		{name: "empty", in: "", want: map[string]uint64{}},
		{
			name: "two unloads summed",
			in:   "SCardEstablishContext 1\nSCardTransmit 3\nSCardFreeMemory 2\nend\nSCardTransmit 4\nSCardIsValidContext 1\nend\n",
			want: map[string]uint64{"SCardEstablishContext": 1, "SCardTransmit": 7, "SCardFreeMemory": 2, "SCardIsValidContext": 1},
			// FreeMemory and IsValidContext never reach pcscd.
			pcscd: 8,
		},
		{name: "not a count", in: "SCardTransmit x\n", wantErr: true},
		{name: "not SCard", in: "printf 1\n", wantErr: true},
		{name: "no count", in: "SCardTransmit\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSCardCounts([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if n := pcscdRequests(got); n != tt.pcscd {
				t.Errorf("pcscd requests = %d, want %d", n, tt.pcscd)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 1, 1, 1, 100}, 1},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !cmp.Equal(in, tt.in) {
			t.Errorf("median reordered its input: %v", tt.in)
		}
	}
}

func TestRotate(t *testing.T) {
	mods := []module{{name: "a"}, {name: "b"}, {name: "c"}}
	for r, want := range []string{"abc", "bca", "cab", "abc"} {
		var got string
		for _, m := range rotate(mods, r) {
			got += m.name
		}
		if got != want {
			t.Errorf("round %d: %s, want %s", r, got, want)
		}
	}
	if mods[0].name != "a" {
		t.Error("rotate changed its input")
	}
}

func TestTargets(t *testing.T) {
	r := newResults()
	for _, v := range []float64{12, 11, 12} {
		r.add("apdus", ours, v)
	}
	r.add("apdus", cpp, 14)
	r.add("ms", ours, 9)
	r.add("ms", cpp, 10)
	r.add("rss", ours, 20)
	r.add("rss", cpp, 2)
	r.notApplicable("ms", opensc, "no such thing")

	tests := []struct {
		name     string
		target   target
		met, ok  bool
		wantText string
	}{
		{"at most, missed", atMost("apdus", 10, "≤ 10"), false, true, "≤ 10"},
		{"at most, met", atMost("apdus", 12, "≤ 12"), true, true, "≤ 12"},
		{"ratio met", ratioAtMost("ms", cpp, 1), true, true, "ours/C++ ≤ 1"},
		{"ratio without the other", ratioAtMost("ms", opensc, 1), false, false, "ours/OpenSC ≤ 1"},
		{"difference missed", diffAtMost("rss", cpp, 15, "MiB"), false, true, "ours − C++ ≤ 15 MiB"},
		{"nothing measured", atMost("none", 1, "≤ 1"), false, false, "≤ 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, met, ok := tt.target(r)
			if text != tt.wantText || met != tt.met || ok != tt.ok {
				t.Errorf("got (%q, %v, %v), want (%q, %v, %v)", text, met, ok, tt.wantText, tt.met, tt.ok)
			}
		})
	}

	table := r.table([]row{
		{"s", "apdus", "APDUs", 0, atMost("apdus", 10, "≤ 10")},
		{"s", "ms", "time", 1, ratioAtMost("ms", cpp, 1)},
	})
	for _, want := range []string{
		"| s | APDUs | 12 | 14 |  |  | 0.86 |  | ≤ 10 | **no** |",
		"| s | time | 9.0 | 10.0 | n/a |  | 0.90 |  | ours/C++ ≤ 1 | yes |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if notes := r.notes([]row{{"s", "ms", "time", 1, nil}, {"s", "ms", "again", 1, nil}}); notes != "- s, OpenSC: no such thing\n" {
		t.Errorf("notes = %q", notes)
	}
}

func TestPDUClock(t *testing.T) {
	var warnings []string
	c := newPDUClock(func(f string, a ...any) { warnings = append(warnings, f) })
	log := slog.New(c).With("session", 1)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	record := func(msg string, d time.Duration, m any) {
		r := slog.NewRecord(at.Add(d), slog.LevelDebug, msg, 0)
		r.AddAttrs(slog.Any("msg", m))
		if err := log.Handler().Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	record("sent", 0, tps.TokenPDURequest{APDU: []byte{0, 0xA4, 4, 0}})
	record("received", 3*time.Millisecond, tps.TokenPDUResponse{Response: []byte{0x90, 0}})
	// Other messages in between do not disturb the pairing.
	record("sent", 4*time.Millisecond, tps.StatusUpdateRequest{})
	record("sent", 10*time.Millisecond, &tps.TokenPDURequest{APDU: []byte{0x80, 0x50, 0, 0}})
	record("received", 15*time.Millisecond, &tps.TokenPDUResponse{Response: []byte{0x90, 0}})
	// A response with no request outstanding is not a round trip.
	record("received", 20*time.Millisecond, tps.TokenPDUResponse{Response: []byte{0x90, 0}})
	log.Warn("client went away")

	if got, want := c.take(), []time.Duration{3 * time.Millisecond, 5 * time.Millisecond}; !cmp.Equal(got, want) {
		t.Errorf("round trips %v, want %v", got, want)
	}
	if got := c.take(); len(got) != 0 {
		t.Errorf("take did not forget: %v", got)
	}
	if len(warnings) != 1 {
		t.Errorf("warnings passed on: %v", warnings)
	}
}

func TestBusy(t *testing.T) {
	half := float64(runtime.NumCPU()) / 2
	tests := []struct {
		load string
		want bool
	}{
		{fmt.Sprintf("%.2f 0.1 0.1", half/2), false},
		{fmt.Sprintf("%.2f 0.1 0.1", half+0.5), true},
		{"?", true},
		{"", true},
	}
	for _, tt := range tests {
		if got := busy(tt.load); got != tt.want {
			t.Errorf("busy(%q) = %v, want %v", tt.load, got, tt.want)
		}
	}
}
