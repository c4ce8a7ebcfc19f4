package signing

import (
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/store"
)

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic, and
// whatever it accepts must carry a published kid and a payload.
func FuzzVerify(f *testing.F) {
	k := newMemKeyring(f, AlgES256, store.KeyActive, store.KeyNext)
	ed := newMemKeyring(f, AlgEdDSA, store.KeyActive)
	good := mustSignF(f, k, "at+jwt")
	parts := strings.Split(good, ".")
	for _, seed := range []string{
		good,
		mustSignF(f, ed, "at+jwt"),
		mustSignF(f, k, ""),
		"",
		".",
		"..",
		"a.b.c",
		parts[0] + "." + parts[1] + ".",
		b64s(`{"alg":"none"}`) + "." + parts[1] + ".",
		b64s(`{"alg":"HS256","kid":"`+k.ActiveKeyID()+`"}`) + "." + parts[1] + "." + parts[2],
		b64s(`{"alg":"ES256","kid":"`+k.ActiveKeyID()+`","crit":["x"]}`) + "." + parts[1] + "." + parts[2],
		b64s(`{"alg":"ES256","kid":{}}`) + "." + parts[1] + "." + parts[2],
		b64s(`[]`) + "." + parts[1] + "." + parts[2],
		good + "." + good,
	} {
		f.Add(seed, "at+jwt")
		f.Add(seed, "")
	}
	f.Fuzz(func(t *testing.T, token, typ string) {
		payload, kid, err := k.Verify(token, typ)
		if err != nil {
			if payload != nil || kid != "" {
				t.Fatalf("error %v with payload %q kid %q", err, payload, kid)
			}
			return
		}
		if k.set.Load().byKID[kid] == nil || len(payload) == 0 {
			t.Fatalf("accepted %q with kid %q payload %q", token, kid, payload)
		}
	})
}

func mustSignF(f *testing.F, k *Keyring, typ string) string {
	tok, err := k.Sign(typ, map[string]any{"sub": "fuzz", "exp": 1})
	if err != nil {
		f.Fatal(err)
	}
	return tok
}
