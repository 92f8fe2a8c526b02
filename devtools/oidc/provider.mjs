// A real OpenID Connect provider (npm oidc-provider) for Cordon's SSO tests and the
// local SSO demo. Not an identity provider for production: accounts and their
// passwords come from the config file, and its sign-in page is a plain form with no
// outside resources (the library's development form loads web fonts from the internet).
//
// Usage: node provider.mjs CONFIG.json
// CONFIG: { "port": 0, "path": "/oidc", "key": "tls key.pem", "cert": "tls cert.pem",
//           "jwks": { "keys": [ private JWKs ] },
//           "clients": [ { "client_id": "...", "redirect_uris": ["http://localhost"] } ],
//           "accounts": { "ada": { "password": "...", "name": "Ada", "email": "...",
//                                  "groups": ["..."] } },
//           "ttl": { "IdToken": 3600, "AccessToken": 3600 } }
// Prints "READY <issuer>" on stdout once it listens.
import { readFileSync } from 'node:fs';
import https from 'node:https';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const path = config.path || '/oidc';
const accounts = config.accounts || {};

const server = https.createServer({
  key: readFileSync(config.key),
  cert: readFileSync(config.cert),
  minVersion: 'TLSv1.2',
});

server.listen(config.port || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}${path}`;
  const provider = new Provider(issuer, {
    clients: (config.clients || []).map((c) => ({
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...c,
    })),
    jwks: config.jwks,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
      groups: ['groups'],
    },
    conformIdTokenClaims: false,
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `${path}/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { IdToken: 3600, AccessToken: 3600, ...(config.ttl || {}) },
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
      && code.scopes.has('offline_access'),
    loadExistingGrant: async (ctx) => {
      // Cordon's users are provisioned by their organisation: no consent screen.
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid offline_access profile email groups');
      await grant.save();
      return grant;
    },
    findAccount: async (_ctx, id) => {
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          name: account.name,
          preferred_username: id,
          email: account.email,
          groups: account.groups || [],
        }),
      };
    },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url.startsWith(path)) {
      res.writeHead(404).end();
      return;
    }
    if (req.url.startsWith(`${path}/interaction/`)) {
      interaction(provider, req, res).catch((err) => {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err.message || err));
      });
      return;
    }
    const url = new URL(req.url, issuer);
    if (url.pathname === `${path}/auth` && url.searchParams.get('scope')?.includes('offline_access')
        && !url.searchParams.get('prompt')) {
      // The library drops offline_access unless prompt=consent; Entra ID and most
      // providers issue a refresh token without it, as the organisation consented.
      url.searchParams.set('prompt', 'consent');
      req.url = url.pathname + url.search;
    }
    req.originalUrl = req.url;
    req.url = req.url.slice(path.length) || '/';
    callback(req, res);
  });
  process.stdout.write(`READY ${issuer}\n`);
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(uid, error) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sign in</h1>${error ? `<p id="error">${escape(error)}</p>` : ''}
<form method="post" action="${path}/interaction/${escape(uid)}/login" autocomplete="off">
<label>User name <input id="login" name="login" type="text" autofocus></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="submit" type="submit">Sign in</button></form></body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt } = details;
  if (prompt.name !== 'login') {
    // Consent is given by the organisation (see loadExistingGrant): finish at once.
    const grant = new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId });
    grant.addOIDCScope('openid offline_access profile email groups');
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(uid));
    return;
  }
  const form = await readForm(req);
  const login = form.get('login') || '';
  const account = Object.hasOwn(accounts, login) ? accounts[login] : undefined;
  if (!account || account.password !== form.get('password')) {
    res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' })
      .end(page(uid, 'Unknown user name or wrong password.'));
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
}

process.on('SIGTERM', () => server.close(() => process.exit(0)));
