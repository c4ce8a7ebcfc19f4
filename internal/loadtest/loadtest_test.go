package loadtest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRun_AgainstBaseline_CountsRequests(t *testing.T) {
	srv := httptest.NewServer(BaselineHandler())
	defer srv.Close()
	res, err := Run(context.Background(), Target{TokenURL: srv.URL, ClientID: "c", ClientSecret: "s"},
		Options{Duration: 300 * time.Millisecond, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.P50 <= 0 || res.P99 < res.P50 {
		t.Fatalf("implausible result %+v", res)
	}
}

func TestRun_UnreachableTarget_Error(t *testing.T) {
	_, err := Run(context.Background(), Target{TokenURL: "http://127.0.0.1:1/token"}, Options{Duration: 100 * time.Millisecond})
	if err == nil {
		t.Fatal("want an error for an unreachable token endpoint")
	}
}

func TestCompare_AlternatesAndMergesRounds(t *testing.T) {
	a := httptest.NewServer(BaselineHandler())
	defer a.Close()
	b := httptest.NewServer(BaselineHandler())
	defer b.Close()
	ra, rb, err := Compare(context.Background(), Target{TokenURL: a.URL, ClientID: "c"}, Target{TokenURL: b.URL, ClientID: "c"},
		Options{Duration: 2 * time.Second, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Result{ra, rb} {
		if r.Requests == 0 || r.Elapsed < 2*time.Second || r.Requests != len(r.latencies) || r.P99 < r.P50 {
			t.Fatalf("implausible merged result %+v", r)
		}
	}
}
