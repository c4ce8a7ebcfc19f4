// A second, independent OAuth server for tokensource's interoperability
// test: the npm package oidc-provider with the client credentials grant.
// Usage: node oidc-provider.mjs <node_modules dir> <port> <client_id> <client_secret> [<jwks json>]
// With a JWKS, a second client "<client_id>-jwt" authenticates with
// private_key_jwt using those public keys.
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [modules, port, clientId, clientSecret, jwks] = process.argv.slice(2);
const { default: Provider } = await import(pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href);

const issuer = `http://127.0.0.1:${port}`;
const clients = [{
  client_id: clientId,
  client_secret: clientSecret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'api:read api:write',
}];
if (jwks) {
  clients.push({
    client_id: `${clientId}-jwt`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: JSON.parse(jwks),
    scope: 'api:read',
  });
}
const provider = new Provider(issuer, {
  clients,
  scopes: ['api:read', 'api:write'],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
  },
  ttl: { ClientCredentials: 3600 },
});
provider.proxy = false;
const server = provider.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
