package authz

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/keyshift/keyshift/internal/store"
)

// clientCache holds every client and the status of every tenant, so the
// token endpoint authenticates without touching the store. It is filled by
// Start and kept current by the change feed.
type clientCache struct {
	mu      sync.RWMutex
	clients map[string]*store.Client // values are never mutated once stored
	tenants map[string]string        // tenant id → status
}

func newClientCache() *clientCache {
	return &clientCache{clients: map[string]*store.Client{}, tenants: map[string]string{}}
}

// lookup returns the client with id (nil when unknown) and whether its
// tenant exists and is active.
func (c *clientCache) lookup(id string) (*store.Client, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cl := c.clients[id]
	if cl == nil {
		return nil, false
	}
	return cl, c.tenants[cl.Tenant] == store.StatusActive
}

// len returns the number of cached clients.
func (c *clientCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.clients)
}

// loadAll replaces the whole cache from the store.
func (c *clientCache) loadAll(ctx context.Context, r store.Reader) error {
	tenants, err := r.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	clients, err := r.ListClients(ctx, "")
	if err != nil {
		return fmt.Errorf("list clients: %w", err)
	}
	tm := make(map[string]string, len(tenants))
	for _, t := range tenants {
		tm[t.ID] = t.Status
	}
	cm := make(map[string]*store.Client, len(clients))
	for i := range clients {
		cm[clients[i].ID] = &clients[i]
	}
	c.mu.Lock()
	c.tenants, c.clients = tm, cm
	c.mu.Unlock()
	return nil
}

// loadClient refreshes one client; a client gone from the store is dropped.
func (c *clientCache) loadClient(ctx context.Context, r store.Reader, id string) error {
	cl, err := r.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		c.mu.Lock()
		delete(c.clients, id)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("get client %s: %w", id, err)
	}
	c.mu.Lock()
	c.clients[id] = &cl
	c.mu.Unlock()
	return nil
}

// loadTenant refreshes a tenant's status and all its clients; a tenant gone
// from the store takes its clients with it.
func (c *clientCache) loadTenant(ctx context.Context, r store.Reader, id string) error {
	t, err := r.GetTenant(ctx, id)
	gone := errors.Is(err, store.ErrNotFound)
	if err != nil && !gone {
		return fmt.Errorf("get tenant %s: %w", id, err)
	}
	var clients []store.Client
	if !gone {
		if clients, err = r.ListClients(ctx, id); err != nil {
			return fmt.Errorf("list clients of tenant %s: %w", id, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Drop the tenant's clients first so clients deleted with it go too.
	maps.DeleteFunc(c.clients, func(_ string, cl *store.Client) bool { return cl.Tenant == id })
	if gone {
		delete(c.tenants, id)
		return nil
	}
	c.tenants[id] = t.Status
	for i := range clients {
		c.clients[clients[i].ID] = &clients[i]
	}
	return nil
}

// tenantActive reports whether the tenant exists and is active.
func (c *clientCache) tenantActive(id string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tenants[id] == store.StatusActive
}
