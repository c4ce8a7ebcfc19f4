package sqlite

import (
	"testing"
	"time"
)

// FuzzTimeText checks that stored time text round-trips and that comparing
// the text compares the instants, which the revocation and audit queries
// rely on.
func FuzzTimeText(f *testing.F) {
	f.Add(int64(0), int64(1))
	f.Add(int64(1_773_500_966_535_897_000), int64(1_773_500_966_535_897_001))
	f.Add(int64(-62_135_596_800_000_000_000/1_000_000_000), int64(0))
	f.Fuzz(func(t *testing.T, a, b int64) {
		ta, tb := time.Unix(0, a), time.Unix(0, b)
		sa, sb := fmtTime(ta), fmtTime(tb)
		got, err := parseTime(sa)
		if err != nil {
			t.Fatalf("parseTime(%q): %v", sa, err)
		}
		if !got.Equal(ta) || got.Location() != time.UTC {
			t.Fatalf("round trip of %v gave %v", ta, got)
		}
		if (sa < sb) != ta.Before(tb) {
			t.Fatalf("text order of %q and %q differs from time order", sa, sb)
		}
	})
}

func TestTimeText_ZeroTime_RoundTrips(t *testing.T) {
	got, err := parseTime(fmtTime(time.Time{}))
	if err != nil || !got.IsZero() {
		t.Fatalf("zero time read back as %v, %v", got, err)
	}
}
