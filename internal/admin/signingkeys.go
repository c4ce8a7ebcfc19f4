package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// SigningKeyView describes a signing key: never its private part.
type SigningKeyView struct {
	KID          string    `json:"kid"`
	Alg          string    `json:"alg"`
	Use          string    `json:"use"`
	State        string    `json:"state"`
	CreatedAt    time.Time `json:"created_at"`
	ActivateAt   time.Time `json:"activate_at"`
	RetiredAt    time.Time `json:"retired_at,omitzero"`
	PublishUntil time.Time `json:"publish_until,omitzero"`
}

// SigningKeyList is the answer of GET /admin/v1/signing-keys and of a rotation.
type SigningKeyList struct {
	SigningKeys []SigningKeyView `json:"signing_keys"`
}

// ListSigningKeys lists the signing keys in every state. Their public parts
// are published anyway, so tenant admins may read the list too.
func (a *API) ListSigningKeys(ctx context.Context, _ Principal) ([]SigningKeyView, error) {
	ks, err := a.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	out := make([]SigningKeyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, SigningKeyView{
			KID: k.ID, Alg: k.Alg, Use: k.Use, State: k.State, CreatedAt: k.CreatedAt,
			ActivateAt: k.ActivateAt, RetiredAt: k.RetiredAt, PublishUntil: k.PublishUntil,
		})
	}
	return out, nil
}

// RotateSigningKeys advances the signing keys one step (operators only).
func (a *API) RotateSigningKeys(ctx context.Context, p Principal) error {
	if !p.IsOperator() {
		return errForbidden("only operators rotate signing keys")
	}
	if a.rot == nil {
		return newProblem(http.StatusNotImplemented, "not-implemented", "Not implemented", "signing-key rotation is not configured")
	}
	ev := a.audit(p, "", "signing_key.rotate", "signing_key", "", nil)
	if err := a.rot.Rotate(ctx, ev); err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	return nil
}

func (a *API) handleListSigningKeys(w http.ResponseWriter, r *http.Request, p Principal) error {
	ks, err := a.ListSigningKeys(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SigningKeyList{SigningKeys: ks})
	return nil
}

func (a *API) handleRotateSigningKeys(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.RotateSigningKeys(r.Context(), p); err != nil {
		return err
	}
	ks, err := a.ListSigningKeys(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SigningKeyList{SigningKeys: ks})
	return nil
}
