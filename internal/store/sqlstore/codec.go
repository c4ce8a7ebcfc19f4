package sqlstore

import (
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// storedSecret is the JSON form of a client secret in the secrets column
// (store.ClientSecret hides its hash from JSON), with times in UTC.
type storedSecret struct {
	ID        string     `json:"id"`
	Hash      []byte     `json:"hash"`
	Hint      string     `json:"hint"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func encodeSecrets(d Dialect, in []store.ClientSecret) (any, error) {
	out := make([]storedSecret, len(in))
	for i, s := range in {
		out[i] = storedSecret{ID: s.ID, Hash: s.Hash, Hint: s.Hint, CreatedAt: s.CreatedAt.UTC()}
		if s.ExpiresAt != nil {
			e := s.ExpiresAt.UTC()
			out[i].ExpiresAt = &e
		}
	}
	v, err := d.JSON(out)
	if err != nil {
		return nil, fmt.Errorf("encode secrets: %w", err)
	}
	return v, nil
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

// encoder encodes several list and JSON arguments and checks once.
type encoder struct {
	d   Dialect
	err error
}

func (e *encoder) strings(s []string) any {
	v, err := e.d.Strings(s)
	if err != nil && e.err == nil {
		e.err = err
	}
	return v
}
