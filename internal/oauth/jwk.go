package oauth

import "encoding/json"

// PrivateJWKMembers returns the JWK members that carry private or symmetric
// key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). A client
// registers and publishes public keys only, so a key with any of them is
// refused.
func PrivateJWKMembers() []string {
	return []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}
}

// PrivateJWKMember returns the first member of the JWK m that carries
// private key material, or "" when m is a public key.
func PrivateJWKMember(m map[string]json.RawMessage) string {
	for _, name := range PrivateJWKMembers() {
		if _, ok := m[name]; ok {
			return name
		}
	}
	return ""
}
