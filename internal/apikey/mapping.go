package apikey

import "slices"

// CatalogueScope is what MapPermissions needs of a scope of the catalogue:
// its name and the legacy permissions it covers.
type CatalogueScope struct {
	Name        string
	Permissions []string
}

// MapPermissions finds the scopes that give an OAuth client exactly the
// rights of a key with the given permissions. A scope is chosen only when
// the key holds every permission it covers, so the client never gets more
// than the key had; key permissions that no chosen scope covers come back
// as unmapped, for a person to decide. A key with no permissions (every API)
// maps to every scope that covers at least one permission. Both lists are
// sorted; scopes without permissions (openid, keyshift:admin, …) are never
// chosen.
func MapPermissions(perms []string, catalogue []CatalogueScope) (scopes, unmapped []string) {
	all := len(perms) == 0
	held := make(map[string]bool, len(perms))
	for _, p := range perms {
		held[p] = true
	}
	covered := make(map[string]bool, len(perms))
	for _, s := range catalogue {
		if len(s.Permissions) == 0 {
			continue
		}
		ok := true
		for _, p := range s.Permissions {
			if !all && !held[p] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		scopes = append(scopes, s.Name)
		for _, p := range s.Permissions {
			covered[p] = true
		}
	}
	for p := range held {
		if !covered[p] {
			unmapped = append(unmapped, p)
		}
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	slices.Sort(unmapped)
	return scopes, unmapped
}
