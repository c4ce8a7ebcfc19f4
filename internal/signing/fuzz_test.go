package signing

import (
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/store"
)

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic, and
// whatever it accepts must carry a published kid, of a key whose algorithm
// the header names, and a payload.
func FuzzVerify(f *testing.F) {
	k, _ := newMultiKeyring(f, Config{Alg: AlgES256, ExtraAlgs: []string{AlgRS256}},
		memKey{AlgES256, store.KeyActive}, memKey{AlgES256, store.KeyNext}, memKey{AlgRS256, store.KeyActive})
	ed := newMemKeyring(f, AlgEdDSA, store.KeyActive)
	good := mustSignF(f, k, "at+jwt")
	parts := strings.Split(good, ".")
	rs, err := k.SignWith(AlgRS256, "at+jwt", map[string]any{"sub": "fuzz", "exp": 1})
	if err != nil {
		f.Fatal(err)
	}
	rsParts := strings.Split(rs, ".")
	rsKID := activeKID(k, AlgRS256)
	for _, seed := range []string{
		good,
		rs,
		b64s(`{"alg":"ES256","kid":"`+rsKID+`","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2],
		b64s(`{"alg":"RS256","kid":"`+k.ActiveKeyID()+`","typ":"at+jwt"}`) + "." + rsParts[1] + "." + rsParts[2],
		rsParts[0] + "." + rsParts[1] + "." + parts[2],
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
		kk := k.set.Load().byKID[kid]
		if kk == nil || len(payload) == 0 {
			t.Fatalf("accepted %q with kid %q payload %q", token, kid, payload)
		}
		h, err := parseHeader(token[:strings.IndexByte(token, '.')])
		if err != nil || h.alg != kk.alg {
			t.Fatalf("accepted %q: header alg %q (%v) for a key of alg %s", token, h.alg, err, kk.alg)
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
