// An independent relying party for keyshift's interoperability test
// (openidclient_test.go): the npm package openid-client (panva, v6) runs
// every flow it knows against a real keyshift and reports what it got.
//
// Usage: node rp.mjs <node_modules dir>, with KS_RP_CONFIG holding a JSON
// object {issuer, web, device, service, signer} (see the Go test).
//
// Protocol: one JSON object a line on stdout, {"event": name, "data": …};
// "authorize" waits for one line on stdin, {"callback": url, "tampered":
// [{name, url}]}: the URL the browser (the Go test) was sent back to, and
// altered copies of it that openid-client must refuse. A failure is
// {"event": "error"} and exit status 1. The Go test asserts the data; openid-client itself
// checks what RFC 6749, RFC 7636, RFC 9207 and OIDC Core ask of a client
// (state, iss, nonce, ID token signature and claims).
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import readline from 'node:readline';

const [modules] = process.argv.slice(2);
const cfg = JSON.parse(process.env.KS_RP_CONFIG ?? '{}');
const client = await import(pathToFileURL(path.join(modules, 'openid-client', 'build', 'index.js')).href);

// A hung step must not hang the test: the Go side has its own deadline,
// this one names the step.
let step = 'start';
const watchdog = setTimeout(() => fail(new Error('script timed out')), 120_000);

function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, data }) + '\n');
}

function fail(err) {
  emit('error', {
    step,
    name: err?.name,
    message: String(err?.message ?? err),
    code: err?.code,
    error: err?.error,
    error_description: err?.error_description,
    status: err?.status,
    cause: err?.cause ? String(err.cause?.message ?? err.cause) : undefined,
  });
  process.exit(1);
}

const stdin = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function readReply() {
  const { value, done } = await stdin.next();
  if (done) throw new Error('stdin closed while waiting for the Go test');
  return JSON.parse(value);
}

// Every configuration talks plain HTTP to a loopback keyshift.
const insecure = { execute: [client.allowInsecureRequests], timeout: 15 };

// errorOf runs fn, which must fail, and returns the OAuth error it got.
// A 401 with a WWW-Authenticate challenge (RFC 9110 §15.5.2, which keyshift
// sends with every invalid_client) surfaces as a challenge error whose
// RFC 6749 §5.2 body is still unread: the error code is taken from there.
async function errorOf(fn) {
  try {
    await fn();
  } catch (err) {
    let error = err?.error ?? null;
    if (!error && err?.response) {
      try { error = (await err.response.json()).error ?? null; } catch { /* not JSON */ }
    }
    return {
      error, code: err?.code ?? null, status: err?.status ?? null,
      challenge: Array.isArray(err?.cause) ? err.cause.map((c) => c.scheme).join(' ') : null,
      message: String(err?.message ?? err),
      cause: err?.cause instanceof Error ? err.cause.message : null,
    };
  }
  throw new Error('expected an error, the call succeeded');
}

try {
  const issuer = new URL(cfg.issuer);

  step = 'discovery';
  const web = await client.discovery(issuer, cfg.web.id, cfg.web.secret, client.ClientSecretBasic(cfg.web.secret), insecure);
  const meta = web.serverMetadata();
  emit('discovery', meta);

  step = 'authorization_code';
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authURL = client.buildAuthorizationUrl(web, {
    redirect_uri: cfg.web.redirect_uri,
    scope: cfg.web.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  emit('authorize', { url: authURL.href });
  const { callback, tampered = [] } = await readReply();
  // Altered copies of the callback first: each must be refused before
  // the code is sent anywhere, so the real one still works after them.
  const refused = [];
  for (const t of tampered) {
    refused.push({ name: t.name, ...await errorOf(() => client.authorizationCodeGrant(web, new URL(t.url), {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    })) });
  }
  emit('tampered_callbacks', refused);
  const code = await client.authorizationCodeGrant(web, new URL(callback), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const idClaims = code.claims();
  emit('authorization_code', {
    token_type: code.token_type, expires_in: code.expires_in, scope: code.scope,
    has_refresh_token: Boolean(code.refresh_token), claims: idClaims,
  });

  step = 'refresh';
  const refreshed = await client.refreshTokenGrant(web, code.refresh_token);
  emit('refresh', {
    rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== code.refresh_token,
    new_access_token: refreshed.access_token !== code.access_token,
    claims: refreshed.claims() ?? null,
  });

  step = 'userinfo';
  // fetchUserInfo refuses an answer whose sub is not the ID token's.
  const userinfo = await client.fetchUserInfo(web, refreshed.access_token, idClaims.sub);
  emit('userinfo', userinfo);

  step = 'refresh_revocation';
  await client.tokenRevocation(web, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  emit('refresh_revocation', { after: await errorOf(() => client.refreshTokenGrant(web, refreshed.refresh_token)) });

  step = 'device';
  const device = await client.discovery(issuer, cfg.device.id, cfg.device.secret, client.ClientSecretPost(cfg.device.secret), insecure);
  const da = await client.initiateDeviceAuthorization(device, { scope: cfg.device.scope });
  emit('device', {
    user_code: da.user_code, verification_uri: da.verification_uri,
    verification_uri_complete: da.verification_uri_complete, expires_in: da.expires_in, interval: da.interval,
  });
  const dt = await client.pollDeviceAuthorizationGrant(device, da, undefined, { signal: AbortSignal.timeout(60_000) });
  emit('device_token', {
    token_type: dt.token_type, scope: dt.scope, has_refresh_token: Boolean(dt.refresh_token), claims: dt.claims() ?? null,
  });

  step = 'client_credentials';
  const service = new client.Configuration(meta, cfg.service.id, cfg.service.secret, client.ClientSecretBasic(cfg.service.secret));
  client.allowInsecureRequests(service);
  const cc = await client.clientCredentialsGrant(service, { scope: cfg.service.scope });
  emit('client_credentials', { token_type: cc.token_type, expires_in: cc.expires_in, scope: cc.scope });

  step = 'introspection';
  const before = await client.tokenIntrospection(service, cc.access_token);
  await client.tokenRevocation(service, cc.access_token);
  const after = await client.tokenIntrospection(service, cc.access_token);
  emit('introspection', { before, after });

  step = 'private_key_jwt';
  const privateKey = await crypto.subtle.importKey(
    'jwk', cfg.signer.jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const signer = new client.Configuration(meta, cfg.signer.id, {},
    client.PrivateKeyJwt({ key: privateKey, kid: cfg.signer.jwk.kid }));
  client.allowInsecureRequests(signer);
  // Two calls in a row: each assertion has its own jti, so the replay
  // record of the first must not refuse the second.
  const first = await client.clientCredentialsGrant(signer, { scope: cfg.signer.scope });
  const second = await client.clientCredentialsGrant(signer, { scope: cfg.signer.scope });
  const seen = await client.tokenIntrospection(service, second.access_token);
  // The same assertion jti twice, as a replaying attacker would send it.
  const replayJTI = client.randomState();
  const replaying = new client.Configuration(meta, cfg.signer.id, {},
    client.PrivateKeyJwt({ key: privateKey, kid: cfg.signer.jwk.kid }, {
      [client.modifyAssertion]: (_header, payload) => { payload.jti = replayJTI; },
    }));
  client.allowInsecureRequests(replaying);
  await client.clientCredentialsGrant(replaying, { scope: cfg.signer.scope });
  emit('private_key_jwt', {
    first_scope: first.scope, distinct_tokens: first.access_token !== second.access_token,
    introspection: seen,
    replay: await errorOf(() => client.clientCredentialsGrant(replaying, { scope: cfg.signer.scope })),
  });

  step = 'done';
  emit('done');
  clearTimeout(watchdog);
  process.exit(0);
} catch (err) {
  fail(err);
}
