package admincli

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
)

func TestTimelineCLI_SetBrownoutExtend(t *testing.T) {
	s := setup(t)
	seedKeys(t, s)
	mustRun(t, "timeline", "set", "--deprecated-at", "2026-01-01", "--keys-off-at", "2030-01-01",
		"--migration-guide-url", "https://docs.example.com/oauth")
	mustRun(t, "timeline", "brownout", "add", "--start", "2029-01-01T00:00:00Z", "--end", "2029-01-01T03:00:00Z")
	mustRun(t, "timeline", "brownout", "add", "--start", "2029-02-01", "--end", "2029-02-02", "--tenant", "acme")
	mustRun(t, "timeline", "extend", "acme", "--until", "2030-06-01", "--reason", "batch job moves in May")
	var tl apikey.Timeline
	decodeOut(t, mustRun(t, "timeline", "show", "-o", "json"), &tl)
	if tl.KeysOffAt == nil || tl.KeysOffAt.Year() != 2030 || len(tl.Brownouts) != 2 || len(tl.Extensions) != 1 ||
		tl.Extensions[0].GrantedBy != s.ClientID {
		t.Fatalf("timeline = %+v", tl)
	}
	table := mustRun(t, "timeline", "show")
	if !strings.Contains(table, "all tenants") || !strings.Contains(table, "batch job moves in May") {
		t.Errorf("show:\n%s", table)
	}
	r := run(t, "", "timeline", "set", "--keys-off-at", "2025-01-01")
	if r.err == nil || !strings.Contains(r.err.Error(), "Inconsistent timeline") || !strings.Contains(r.err.Error(), "keys_off_at") {
		t.Fatalf("conflicting set: %v", r.err)
	}
	mustRun(t, "timeline", "brownout", "remove", "--start", "2029-01-01T00:00:00Z")
	mustRun(t, "timeline", "extend", "acme", "--remove")
	decodeOut(t, mustRun(t, "timeline", "show", "-o", "json"), &tl)
	if len(tl.Brownouts) != 1 || len(tl.Extensions) != 0 || tl.KeysOffAt.Year() != 2030 {
		t.Errorf("after removals = %+v", tl)
	}
	for _, args := range [][]string{
		{"timeline", "set"},
		{"timeline", "set", "--keys-off-at", "someday"},
		{"timeline", "brownout", "remove", "--start", "2000-01-01"},
		{"timeline", "extend", "acme", "--until", "later"},
	} {
		if r := run(t, "", args...); r.err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	mustRun(t, "timeline", "set", "--keys-off-at", "none")
}

func TestMigrationCLI_TableJSONCSV(t *testing.T) {
	s := setup(t)
	seedKeys(t, s)
	mustRun(t, "keys", "create", "acme", "--name", "ERP")
	mustRun(t, "timeline", "set", "--deprecated-at", "2026-01-01", "--keys-off-at", "2030-01-01")
	var rep apikey.Report
	decodeOut(t, mustRun(t, "migration", "--at", "2030-01-02", "-o", "json"), &rep)
	if len(rep.Tenants) != 1 || rep.Tenants[0].Status != apikey.TenantNotStarted || len(rep.Tenants[0].WouldBeRefused) != 1 {
		t.Fatalf("report = %+v", rep)
	}
	table := mustRun(t, "migration", "--at", "2030-01-02")
	if !strings.Contains(table, "not_started") || !strings.Contains(table, "api_key_sunset") {
		t.Errorf("table:\n%s", table)
	}
	recs, err := csv.NewReader(strings.NewReader(mustRun(t, "migration", "-o", "csv"))).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != "acme" || recs[1][8] != "0" {
		t.Errorf("csv = %v, %v", recs, err)
	}
	if r := run(t, "", "migration", "--at", "soon"); r.err == nil {
		t.Error("bad --at accepted")
	}
}

func TestTrafficCLI_TableJSONAndBadDays(t *testing.T) {
	seedKeys(t, setup(t))
	var rep admin.TrafficReport
	decodeOut(t, mustRun(t, "traffic", "acme", "--days", "7", "-o", "json"), &rep)
	if rep.Tenant != "acme" || len(rep.Days) != 7 {
		t.Fatalf("report = %+v, want 7 days of acme", rep)
	}
	table := mustRun(t, "traffic", "--days", "3")
	if !strings.Contains(table, "TOKEN REQUESTS") || strings.Count(table, "\n") != 4 {
		t.Errorf("table:\n%s", table)
	}
	for _, args := range [][]string{{"traffic", "--days", "0"}, {"traffic", "--days", "400"}, {"traffic", "a", "b"}} {
		if r := run(t, "", args...); r.err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if r := run(t, "", "traffic", "nosuchtenant"); r.err == nil || !strings.Contains(r.err.Error(), "not found") {
		t.Errorf("unknown tenant: %v", r.err)
	}
}
