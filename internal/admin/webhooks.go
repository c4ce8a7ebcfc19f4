package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/keyshift/keyshift/internal/notify"
	"github.com/keyshift/keyshift/internal/store"
)

// PutWebhookRequest is the body of PUT /admin/v1/tenants/{tenant}/webhook.
type PutWebhookRequest struct {
	URL string `json:"url"`
}

// PutWebhookResponse shows the signing secret, in this answer only. Setting
// a webhook again rotates the secret; the previous one keeps signing beside
// it for notify.RotationOverlap.
type PutWebhookResponse struct {
	notify.Webhook
	Secret string `json:"secret"`
}

// webhookTenant checks access to the webhook of tenant; the platform
// tenant's webhook is the operator's.
func (a *API) webhookTenant(ctx context.Context, p Principal, tenant string) error {
	if a.sealer == nil {
		return newProblem(http.StatusNotImplemented, "not-implemented", "Webhooks unavailable", "this server has no sealer configured for webhook secrets")
	}
	if tenant == store.PlatformTenant && !p.IsOperator() || !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	if _, err := a.st.GetTenant(ctx, tenant); errors.Is(err, store.ErrNotFound) {
		return errNotFound("tenant")
	} else if err != nil {
		return fmt.Errorf("get tenant %s: %w", tenant, err)
	}
	return nil
}

// PutWebhook sets (or replaces, rotating its secret) a tenant's webhook.
func (a *API) PutWebhook(ctx context.Context, p Principal, tenant string, req PutWebhookRequest) (PutWebhookResponse, error) {
	if err := a.webhookTenant(ctx, p, tenant); err != nil {
		return PutWebhookResponse{}, err
	}
	if err := notify.CheckURL(req.URL); err != nil {
		var v validation
		v.add("url", err.Error())
		return PutWebhookResponse{}, v.err()
	}
	now := a.clock()
	var out PutWebhookResponse
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		secret, err := notify.SetWebhook(ctx, tx, a.sealer, tenant, req.URL, now)
		if err != nil {
			return err
		}
		if out.Webhook, err = notify.GetWebhook(ctx, tx, a.sealer, tenant); err != nil {
			return err
		}
		out.Secret = secret
		// The URL may carry the receiver's token: the audit keeps only the secret's hint.
		return tx.AppendAudit(ctx, a.audit(p, tenant, "webhook.set", "webhook", tenant, details("secret_hint", out.SecretHint)))
	})
	if err != nil {
		return PutWebhookResponse{}, fmt.Errorf("set webhook of %s: %w", tenant, err)
	}
	return out, nil
}

// GetWebhook shows a tenant's webhook without its secret.
func (a *API) GetWebhook(ctx context.Context, p Principal, tenant string) (notify.Webhook, error) {
	if err := a.webhookTenant(ctx, p, tenant); err != nil {
		return notify.Webhook{}, err
	}
	wh, err := notify.GetWebhook(ctx, a.st, a.sealer, tenant)
	if errors.Is(err, notify.ErrNoWebhook) {
		return notify.Webhook{}, errNotFound("webhook")
	}
	if err != nil {
		return notify.Webhook{}, fmt.Errorf("get webhook of %s: %w", tenant, err)
	}
	return wh, nil
}

// DeleteWebhook removes a tenant's webhook; its notifications are then
// marked delivered with "no webhook configured".
func (a *API) DeleteWebhook(ctx context.Context, p Principal, tenant string) error {
	if _, err := a.GetWebhook(ctx, p, tenant); err != nil {
		return err
	}
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		if err := notify.DeleteWebhook(ctx, tx, tenant); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "webhook.delete", "webhook", tenant, nil))
	})
	if err != nil {
		return fmt.Errorf("delete webhook of %s: %w", tenant, err)
	}
	return nil
}

// TestWebhook queues a test event for a tenant's webhook.
func (a *API) TestWebhook(ctx context.Context, p Principal, tenant string) (string, error) {
	if _, err := a.GetWebhook(ctx, p, tenant); err != nil {
		return "", err
	}
	var id string
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		var err error
		if id, err = notify.EnqueueTest(ctx, tx, tenant, a.clock()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "webhook.test", "webhook", tenant, details("event_id", id)))
	})
	if err != nil {
		return "", fmt.Errorf("test webhook of %s: %w", tenant, err)
	}
	return id, nil
}

func (a *API) handlePutWebhook(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req PutWebhookRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	out, err := a.PutWebhook(r.Context(), p, tenant, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) handleGetWebhook(w http.ResponseWriter, r *http.Request, p Principal) error {
	wh, err := a.GetWebhook(r.Context(), p, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wh)
	return nil
}

func (a *API) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.DeleteWebhook(r.Context(), p, r.PathValue("tenant")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) handleTestWebhook(w http.ResponseWriter, r *http.Request, p Principal) error {
	id, err := a.TestWebhook(r.Context(), p, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"event_id": id})
	return nil
}
