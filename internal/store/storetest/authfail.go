package storetest

import (
	"context"
	"crypto/rand"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// authFailureTests check store.AuthFailures, which every backend has. Keys
// carry a random prefix, so rows left by other tests on a reused database
// do not count.
var authFailureTests = []test{
	{"AddAddsUpAcrossFlushesAndInstances", func(t *testing.T, s store.Store) {
		af, p := authFailuresOf(t, s)
		ctx := context.Background()
		w := at(0).Truncate(time.Second)
		flushes := [][]store.AuthFailureCount{
			{{Instance: "a", Key: p + "client:x", Window: w, Count: 2}, {Instance: "a", Key: p + "client:x", Window: w, Count: 1}},
			{{Instance: "a", Key: p + "client:x", Window: w, Count: 4}, {Instance: "b", Key: p + "client:x", Window: w, Count: 5}},
			{{Instance: "b", Key: p + "addr:10.0.0.1", Window: w.Add(time.Minute), Count: 1}, {Instance: "b", Key: p + "addr:10.0.0.1", Window: w, Count: 0}},
		}
		for _, f := range flushes {
			if err := af.AddAuthFailures(ctx, f); err != nil {
				t.Fatalf("AddAuthFailures: %v", err)
			}
		}
		got := listAuthFailures(t, af, p, w, "")
		want := []string{"a " + p + "client:x 0 7", "b " + p + "addr:10.0.0.1 60 1", "b " + p + "client:x 0 5"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("counts = %v; want %v", got, want)
		}
		if got := listAuthFailures(t, af, p, w, "a"); len(got) != 2 {
			t.Errorf("counts except instance a = %v; want b's two rows", got)
		}
		if got := listAuthFailures(t, af, p, w.Add(time.Second), ""); len(got) != 1 {
			t.Errorf("counts since the second window = %v; want one row", got)
		}
	}},
	{"DeleteRemovesOldWindows", func(t *testing.T, s store.Store) {
		af, p := authFailuresOf(t, s)
		ctx := context.Background()
		w := at(0).Truncate(time.Second)
		err := af.AddAuthFailures(ctx, []store.AuthFailureCount{
			{Instance: "a", Key: p + "k", Window: w, Count: 1},
			{Instance: "a", Key: p + "k", Window: w.Add(time.Minute), Count: 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := af.DeleteAuthFailures(ctx, w.Add(time.Second)); err != nil || n < 1 {
			t.Fatalf("DeleteAuthFailures = %d, %v; want at least 1", n, err)
		}
		if got := listAuthFailures(t, af, p, w.Add(-time.Hour), ""); len(got) != 1 {
			t.Errorf("after delete: %v; want the later window only", got)
		}
	}},
	{"EmptyAddIsNoOp", func(t *testing.T, s store.Store) {
		af, _ := authFailuresOf(t, s)
		if err := af.AddAuthFailures(context.Background(), nil); err != nil {
			t.Fatalf("AddAuthFailures(nil): %v", err)
		}
	}},
}

func authFailuresOf(t *testing.T, s store.Store) (store.AuthFailures, string) {
	t.Helper()
	return s, rand.Text()[:8] + ":"
}

// listAuthFailures returns "instance key window-offset count" strings of
// the rows with prefix p, sorted; offsets are seconds from w.
func listAuthFailures(t *testing.T, af store.AuthFailures, p string, since time.Time, except string) []string {
	t.Helper()
	rows, err := af.ListAuthFailures(context.Background(), since, except)
	if err != nil {
		t.Fatalf("ListAuthFailures: %v", err)
	}
	base := at(0).Truncate(time.Second)
	var out []string
	for _, r := range rows {
		if !strings.HasPrefix(r.Key, p) {
			continue
		}
		if r.Window.Location() != time.UTC {
			t.Errorf("window %v not in UTC", r.Window)
		}
		out = append(out, r.Instance+" "+r.Key+" "+itoa(int64(r.Window.Sub(base)/time.Second))+" "+itoa(r.Count))
	}
	sort.Strings(out)
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
