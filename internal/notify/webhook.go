package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/weburl"
)

// SecretPrefix starts every webhook signing secret, so secret scanners can
// recognise a leaked one.
const SecretPrefix = "whs_"

// RotationOverlap is how long the previous secret keeps signing next to a new
// one after SetWebhook replaces it, so receivers can switch without losing
// events.
const RotationOverlap = 24 * time.Hour

// ErrNoWebhook reports a tenant (or the operator) without a webhook.
var ErrNoWebhook = errors.New("no webhook configured")

// Webhook is a webhook configuration as shown to administrators: never its
// secret, only the secret's last characters.
type Webhook struct {
	// Tenant is the tenant the webhook belongs to; store.PlatformTenant for
	// the operator's.
	Tenant     string    `json:"tenant"`
	URL        string    `json:"url"`
	SecretHint string    `json:"secret_hint"`
	CreatedAt  time.Time `json:"created_at"`
	// PreviousUntil is when the secret replaced by the last SetWebhook stops
	// signing; zero when there is none.
	PreviousUntil time.Time `json:"previous_secret_until,omitzero"`
}

// webhookDoc is the sealed content of a webhook setting. The URL is sealed as
// well as the secret: many webhook URLs (chat incoming hooks) carry a token.
type webhookDoc struct {
	URL            string    `json:"url"`
	Secret         string    `json:"secret"`
	CreatedAt      time.Time `json:"created_at"`
	PreviousSecret string    `json:"previous_secret,omitempty"`
	PreviousUntil  time.Time `json:"previous_until,omitzero"`
	// TenantCreatedAt ties the webhook to this incarnation of the tenant:
	// a tenant deleted and created again under the same ID must not
	// inherit its predecessor's webhook.
	TenantCreatedAt time.Time `json:"tenant_created_at,omitzero"`
}

// envelope is the stored settings document: JSON, so that tools listing
// settings see a document, holding the sealed webhookDoc. A deleted webhook
// is an envelope without Sealed (the store has no DeleteSetting).
type envelope struct {
	Sealed []byte `json:"sealed,omitempty"`
}

// settingName is the settings document of a tenant's webhook. The operator's
// is the platform tenant's: operators are the platform tenant's admins, and
// outbox messages for the operator have Tenant "".
func settingName(tenant string) string {
	if tenant == "" {
		tenant = store.PlatformTenant
	}
	return "webhook:" + tenant
}

// SetWebhook creates or replaces the webhook of tenant (store.PlatformTenant
// or "" for the operator) and returns its new signing secret, which is shown
// once and never again. When a webhook existed, its secret keeps signing
// alongside the new one for RotationOverlap after now. Only https URLs are
// accepted, and http on a loopback host for development.
func SetWebhook(ctx context.Context, tx store.Tx, sealer *signing.Sealer, tenant, rawURL string, now time.Time) (string, error) {
	name := settingName(tenant)
	if err := CheckURL(rawURL); err != nil {
		return "", fmt.Errorf("set %s: %w", name, err)
	}
	doc := webhookDoc{URL: rawURL, Secret: credential.New(SecretPrefix), CreatedAt: now.UTC()}
	if tenant != "" && tenant != store.PlatformTenant {
		tn, err := tx.GetTenant(ctx, tenant)
		if err != nil {
			return "", fmt.Errorf("set %s: %w", name, err)
		}
		doc.TenantCreatedAt = tn.CreatedAt
	}
	old, err := loadWebhook(ctx, tx, sealer, tenant)
	switch {
	case err == nil:
		doc.PreviousSecret, doc.PreviousUntil = old.Secret, now.UTC().Add(RotationOverlap)
	case !errors.Is(err, ErrNoWebhook):
		return "", fmt.Errorf("set %s: %w", name, err)
	}
	if err := putWebhook(ctx, tx, sealer, name, &doc); err != nil {
		return "", fmt.Errorf("set %s: %w", name, err)
	}
	return doc.Secret, nil
}

// GetWebhook returns the webhook of tenant ("" or store.PlatformTenant for the
// operator), or an error wrapping ErrNoWebhook.
func GetWebhook(ctx context.Context, r store.Reader, sealer *signing.Sealer, tenant string) (Webhook, error) {
	doc, err := loadWebhook(ctx, r, sealer, tenant)
	if err != nil {
		return Webhook{}, err
	}
	if tenant == "" {
		tenant = store.PlatformTenant
	}
	return Webhook{
		Tenant: tenant, URL: doc.URL, SecretHint: credential.Hint(doc.Secret),
		CreatedAt: doc.CreatedAt, PreviousUntil: doc.PreviousUntil,
	}, nil
}

// DeleteWebhook removes the webhook of tenant; messages for it are then
// marked delivered unsent. Deleting a missing webhook is not an error. Call
// it in the transaction that deletes a tenant (a webhook left behind is
// ignored anyway: see webhookDoc.TenantCreatedAt).
func DeleteWebhook(ctx context.Context, tx store.Tx, tenant string) error {
	name := settingName(tenant)
	if err := tx.PutSetting(ctx, name, []byte(`{}`)); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

func putWebhook(ctx context.Context, tx store.KeyTx, sealer *signing.Sealer, name string, doc *webhookDoc) error {
	plain, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	sealed, err := sealer.Seal(plain, []byte(name))
	if err != nil {
		return err
	}
	env, err := json.Marshal(envelope{Sealed: sealed})
	if err != nil {
		return err
	}
	return tx.PutSetting(ctx, name, env)
}

// loadWebhook reads and opens a webhook setting, secrets included. A
// tenant's webhook counts only while that very tenant exists.
func loadWebhook(ctx context.Context, r store.Reader, sealer *signing.Sealer, tenant string) (webhookDoc, error) {
	name := settingName(tenant)
	raw, err := r.GetSetting(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return webhookDoc{}, fmt.Errorf("%s: %w", name, ErrNoWebhook)
	}
	if err != nil {
		return webhookDoc{}, fmt.Errorf("load %s: %w", name, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return webhookDoc{}, fmt.Errorf("load %s: malformed document: %w", name, err)
	}
	if len(env.Sealed) == 0 {
		return webhookDoc{}, fmt.Errorf("%s: %w", name, ErrNoWebhook)
	}
	plain, err := sealer.Open(env.Sealed, []byte(name))
	if err != nil {
		return webhookDoc{}, fmt.Errorf("load %s: %w", name, err)
	}
	var doc webhookDoc
	if err := json.Unmarshal(plain, &doc); err != nil {
		return webhookDoc{}, fmt.Errorf("load %s: malformed sealed document: %w", name, err)
	}
	if tenant == "" || tenant == store.PlatformTenant {
		return doc, nil
	}
	tn, err := r.GetTenant(ctx, tenant)
	if errors.Is(err, store.ErrNotFound) || err == nil && !tn.CreatedAt.Equal(doc.TenantCreatedAt) {
		return webhookDoc{}, fmt.Errorf("%s: tenant deleted since: %w", name, ErrNoWebhook)
	}
	if err != nil {
		return webhookDoc{}, fmt.Errorf("load %s: %w", name, err)
	}
	return doc, nil
}

// secrets returns the secrets that sign at now: the current one and, during
// a rotation, the previous one.
func (d webhookDoc) secrets(now time.Time) []string {
	if d.PreviousSecret != "" && now.Before(d.PreviousUntil) {
		return []string{d.Secret, d.PreviousSecret}
	}
	return []string{d.Secret}
}

// CheckURL accepts an absolute https URL without credentials or fragment, or
// an http URL on a loopback host (for development and tests).
func CheckURL(s string) error {
	if _, err := weburl.CheckSecure(s); err != nil {
		return fmt.Errorf("webhook URL %w", err)
	}
	return nil
}
