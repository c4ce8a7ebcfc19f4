// Package apikey is the storage-independent core of keyshift's legacy API
// keys: their format and hashing, the domain records (Key, Timeline), the
// sunset decision and the explanation that goes with it (the guard renders its
// Deprecation, Sunset and Link headers), and in-memory usage
// counting.
//
// The package follows "functional core, imperative shell": Decide,
// DecideCreate and UnusedDisable are pure functions of (timeline, tenant, key,
// now), so every phase boundary is a table test. Lookup by hash, storage of
// usage and HTTP wiring live around it, in the guard, the store and the admin
// API.
//
// Times are compared as instants; a milestone is reached when now is equal to
// or after it (intervals are half-open: [start, end)).
package apikey
