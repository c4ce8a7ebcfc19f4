package apikey

import "time"

// Decision codes: the `decision` of key introspection and the `error` of a
// refusal.
const (
	CodeAccepted = "accepted"
	CodeSunset   = "api_key_sunset"
	CodeBrownout = "api_key_brownout"
	CodeDisabled = "api_key_disabled"
	CodeExpired  = "api_key_expired"
	// CodeUnknown is produced by the lookup (no key with that hash, or a
	// malformed key), never by Decide.
	CodeUnknown = "api_key_unknown"
)

// Reasons are constant sentences, so that Decide does not allocate; the dates
// travel in the Decision's fields and Result.Description adds them to the text.
const (
	reasonAccepted           = "The API key is accepted."
	reasonAcceptedDeprecated = "The API key is accepted, but API keys are deprecated: move this integration to an OAuth 2.0 client."
	reasonPlatform           = "The API key is owned by the platform and is not affected by the API key sunset."
	reasonSunset             = "API keys are no longer accepted for this tenant: use an OAuth 2.0 client."
	reasonBrownout           = "API keys are refused during a scheduled brownout, which shows integrations that have not moved to OAuth 2.0 yet; retrying before it ends will not help."
	reasonDisabled           = "The API key has been disabled or revoked."
	reasonExpired            = "The API key has passed its expiry date."
	reasonUnknown            = "The API key is not known."
)

// Decision is the answer of the timeline for one use of one key.
//
// Its time pointers point into the Timeline given to Decide (which is why
// Decide does not allocate); treat them as read-only.
type Decision struct {
	// Code is one of the Code constants.
	Code string
	// Accepted is true only for CodeAccepted.
	Accepted bool
	// Reason is a human sentence explaining Code.
	Reason string
	// Deprecation is the global deprecated_at, for the Deprecation header
	// (RFC 9745). It is set whenever the timeline has one and the key is a
	// tenant key, also before that date: RFC 9745 allows announcing a
	// future deprecation.
	Deprecation *time.Time
	// Sunset is the tenant's effective keys_off_at, for the Sunset header
	// (RFC 8594); nil for platform keys.
	Sunset *time.Time
	// BrownoutEnd is when the current brownout ends, for CodeBrownout.
	BrownoutEnd *time.Time
}

// Unknown is the decision for a key that the lookup did not find or that is
// malformed. It carries no timeline signals: nothing is known about it.
func Unknown() Decision { return Decision{Code: CodeUnknown, Reason: reasonUnknown} }

// Decide says whether key k of tenant may be used at now. It is pure and does
// not allocate. In order:
//
//  1. a disabled or revoked key (or one in an unknown status) is refused as
//     api_key_disabled;
//  2. a key whose ExpiresAt is at or before now is refused as api_key_expired;
//  3. a platform-owned key is accepted, with no deprecation signals: the
//     timeline does not concern it;
//  4. a tenant key at or after the tenant's effective keys_off_at (its
//     extension, else the global one) is refused as api_key_sunset;
//  5. a tenant key inside a brownout [start, end) is refused as
//     api_key_brownout. A brownout that names tenants applies to those
//     tenants only; one that names none applies to every tenant without an
//     extension. An extension is a promise of more time, so it exempts the
//     tenant from global brownouts, but not from brownouts naming it, which
//     is how an operator browns out an extended tenant before its own date;
//  6. otherwise the key is accepted.
//
// Tenant keys carry Deprecation and Sunset in every outcome, so refusals can
// say when keys go away for good.
func Decide(t Timeline, tenant TenantInfo, k Key, now time.Time) Decision {
	var d Decision
	var x *Extension
	if k.Owner != OwnerPlatform {
		// Anything not explicitly platform-owned is treated as a tenant
		// key: the timeline fails closed.
		d.Deprecation = t.DeprecatedAt
		if x = t.extension(tenant.ID); x != nil {
			d.Sunset = &x.KeysOffAt
		} else {
			d.Sunset = t.KeysOffAt
		}
	}
	switch {
	case k.Status != StatusActive:
		return d.refuse(CodeDisabled, reasonDisabled)
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return d.refuse(CodeExpired, reasonExpired)
	case k.Owner == OwnerPlatform:
		return d.accept(reasonPlatform)
	case d.Sunset != nil && !now.Before(*d.Sunset):
		return d.refuse(CodeSunset, reasonSunset)
	}
	if end := t.brownoutAt(tenant.ID, x != nil, now); end != nil {
		d.BrownoutEnd = end
		return d.refuse(CodeBrownout, reasonBrownout)
	}
	if d.Deprecation != nil && !now.Before(*d.Deprecation) {
		return d.accept(reasonAcceptedDeprecated)
	}
	return d.accept(reasonAccepted)
}

func (d Decision) refuse(code, reason string) Decision {
	d.Code, d.Reason = code, reason
	return d
}

func (d Decision) accept(reason string) Decision {
	d.Code, d.Accepted, d.Reason = CodeAccepted, true, reason
	return d
}

// brownoutAt returns the end of the brownout that refuses tenant's keys at
// now, or nil. When windows of a tenant and a global one overlap, the first
// in the list wins; Validate refuses such overlaps anyway.
func (t Timeline) brownoutAt(tenant string, extended bool, now time.Time) *time.Time {
	for i := range t.Brownouts {
		b := &t.Brownouts[i]
		if now.Before(b.Start) || !now.Before(b.End) {
			continue
		}
		if len(b.Tenants) == 0 {
			if !extended {
				return &b.End
			}
			continue
		}
		for _, name := range b.Tenants {
			if name == tenant {
				return &b.End
			}
		}
	}
	return nil
}

// Creation codes of DecideCreate.
const (
	CreateAllowed         = "allowed"
	CreateTenantOAuthOnly = "tenant_oauth_only"
	CreateNoNewKeys       = "no_new_keys"
	CreateKeysOff         = "keys_off"
)

// CreateDecision says whether a key may be created, and why not.
type CreateDecision struct {
	Allowed bool
	// Code is one of the Create constants.
	Code string
	// Reason is a human sentence explaining Code.
	Reason string
}

// DecideCreate says whether a key with the given owner may be created for
// tenant at now. Platform keys are always allowed. Tenant keys are refused,
// checking the strongest reason first, once the tenant's effective
// keys_off_at is reached (keys_off), once no_new_keys_at is reached
// (no_new_keys), or when the tenant was created after
// tenant_oauth_only_after (tenant_oauth_only; a tenant created exactly at
// that instant is an existing one).
func DecideCreate(t Timeline, tenant TenantInfo, owner Owner, now time.Time) CreateDecision {
	if owner == OwnerPlatform {
		return CreateDecision{Allowed: true, Code: CreateAllowed,
			Reason: "Platform-owned keys are not affected by the API key sunset."}
	}
	if off, ok := t.EffectiveKeysOff(tenant.ID); ok && !now.Before(off) {
		return CreateDecision{Code: CreateKeysOff,
			Reason: "API keys are no longer accepted for this tenant, so no key can be created: create an OAuth 2.0 client instead."}
	}
	if t.NoNewKeysAt != nil && !now.Before(*t.NoNewKeysAt) {
		return CreateDecision{Code: CreateNoNewKeys,
			Reason: "New API keys can no longer be created: create an OAuth 2.0 client instead."}
	}
	if t.TenantOAuthOnlyAfter != nil && tenant.CreatedAt.After(*t.TenantOAuthOnlyAfter) {
		return CreateDecision{Code: CreateTenantOAuthOnly,
			Reason: "Tenants created after OAuth 2.0 became the only option cannot create API keys: create an OAuth 2.0 client instead."}
	}
	return CreateDecision{Allowed: true, Code: CreateAllowed, Reason: "API keys may be created."}
}

// UnusedDisable reports whether key k should be disabled automatically at now
// for lack of use. lastUsed is the most recent use known to the caller
// (in-memory usage may be newer than k.LastUsedAt); zero means none.
//
// Only active tenant keys qualify, only when disable_unused_after_days is set
// and deprecated_at is reached, and the idle period counts from the latest of
// the last use, the key's creation (for never-used keys) and deprecated_at:
// every key gets the full period of notice after the announcement, so no
// integration is switched off by surprise.
func UnusedDisable(t Timeline, k Key, lastUsed, now time.Time) bool {
	if t.DisableUnusedAfterDays <= 0 || t.DeprecatedAt == nil || now.Before(*t.DeprecatedAt) ||
		k.Owner == OwnerPlatform || k.Status != StatusActive {
		return false
	}
	since := lastUsed
	if k.LastUsedAt != nil && k.LastUsedAt.After(since) {
		since = *k.LastUsedAt
	}
	if k.CreatedAt.After(since) {
		since = k.CreatedAt
	}
	if t.DeprecatedAt.After(since) {
		since = *t.DeprecatedAt
	}
	idle := time.Duration(t.DisableUnusedAfterDays) * 24 * time.Hour
	return !now.Before(since.Add(idle))
}
