package postgres

import (
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// storedSecret is the JSON form of a client secret in the secrets column
// (store.ClientSecret hides its hash from JSON).
type storedSecret struct {
	ID        string     `json:"id"`
	Hash      []byte     `json:"hash"`
	Hint      string     `json:"hint"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func encodeSecrets(in []store.ClientSecret) []storedSecret {
	out := make([]storedSecret, len(in))
	for i, s := range in {
		out[i] = storedSecret{ID: s.ID, Hash: s.Hash, Hint: s.Hint, CreatedAt: s.CreatedAt.UTC()}
		if s.ExpiresAt != nil {
			e := s.ExpiresAt.UTC()
			out[i].ExpiresAt = &e
		}
	}
	return out
}

func decodeSecrets(in []storedSecret) []store.ClientSecret {
	if len(in) == 0 {
		return nil
	}
	out := make([]store.ClientSecret, len(in))
	for i, s := range in {
		out[i] = store.ClientSecret{ID: s.ID, Hash: s.Hash, Hint: s.Hint, CreatedAt: s.CreatedAt.UTC()}
		if s.ExpiresAt != nil {
			e := s.ExpiresAt.UTC()
			out[i].ExpiresAt = &e
		}
	}
	return out
}
