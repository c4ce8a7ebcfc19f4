package gateway

import (
	"context"
	"sync"
	"time"
	"unsafe"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/apikey"
)

// maxMemo bounds LocalKeys' memo of prepared answers; past it the memo
// starts over.
const maxMemo = 100_000

// LocalKeys is the guard.KeyChecker of a gateway running inside keyshift
// (`keyshift serve --upstream`): it asks keyshift's key service directly —
// registry lookup through its cache, the sunset timeline's decision, usage
// counted in memory — so key requests need no network hop.
//
// Accepted answers are prepared once per key and decision (headers and
// principal rendered) and reused while the decision's inputs stay the same,
// so the steady state of a key costs no allocation here.
type LocalKeys struct {
	svc  *apikey.Service
	mu   sync.RWMutex
	memo map[string]memoEntry // key id → last prepared accepted answer
}

type memoEntry struct {
	dep, sunset   time.Time
	guide, tenant string
	perms, scopes *string // identity of the key's slices: a changed key has new ones
	res           guard.KeyResult
}

// NewLocalKeys returns the in-process key checker on svc, which the caller
// starts (svc.Start) and stops.
func NewLocalKeys(svc *apikey.Service) *LocalKeys {
	return &LocalKeys{svc: svc, memo: map[string]memoEntry{}}
}

// CheckKey implements guard.KeyChecker.
func (l *LocalKeys) CheckKey(ctx context.Context, key string, req guard.RequestInfo) (guard.KeyResult, error) {
	res, err := l.svc.Check(ctx, key, apikey.RequestInfo{Route: req.Route, IP: req.RemoteIP, UserAgent: req.UserAgent})
	if err != nil {
		return guard.KeyResult{}, err
	}
	d := &res.Decision
	var dep, sunset time.Time
	if d.Deprecation != nil {
		dep = *d.Deprecation
	}
	if d.Sunset != nil {
		sunset = *d.Sunset
	}
	kr := guard.KeyResult{
		Active: d.Accepted, Decision: d.Code, Tenant: res.Key.Tenant, KeyID: res.Key.ID,
		Permissions: res.Key.Permissions, Scopes: res.Key.Scopes,
		Deprecation: dep, Sunset: sunset, MigrationGuideURL: res.GuideURL,
	}
	if !d.Accepted {
		kr.Description = res.Description()
		return kr, nil
	}
	m := memoEntry{dep: dep, sunset: sunset, guide: res.GuideURL, tenant: res.Key.Tenant,
		perms: unsafe.SliceData(res.Key.Permissions), scopes: unsafe.SliceData(res.Key.Scopes)}
	l.mu.RLock()
	old, ok := l.memo[res.Key.ID]
	l.mu.RUnlock()
	if ok && old.dep.Equal(m.dep) && old.sunset.Equal(m.sunset) && old.guide == m.guide &&
		old.tenant == m.tenant && old.perms == m.perms && old.scopes == m.scopes {
		return old.res, nil
	}
	m.res = kr.Prepare()
	l.mu.Lock()
	if len(l.memo) >= maxMemo {
		clear(l.memo)
	}
	l.memo[res.Key.ID] = m
	l.mu.Unlock()
	return m.res, nil
}
