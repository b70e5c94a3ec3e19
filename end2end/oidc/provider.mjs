// A real OpenID Connect provider for attest's tests (the `oidc-provider` package), with four
// people and their groups. It prints `issuer <url>` once it listens.
//
//   node end2end/oidc/provider.mjs --port 0 --redirect http://127.0.0.1:3000/auth/callback
//
// Sign-in is a plain form at /interaction/:uid: a username (the password field is checked
// against `secret`). Consent is implied for the registered clients.

import http from 'node:http';
import { parseArgs } from 'node:util';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    redirect: { type: 'string', multiple: true, default: [] },
    'id-token-ttl': { type: 'string', default: '3600' },
  },
});

const PEOPLE = {
  alice: { email: 'alice@example.com', name: 'Alice Admin', groups: ['attest-admins', 'staff'] },
  olga: { email: 'olga@example.com', name: 'Olga Owner', groups: ['attest-campaign-owners'] },
  rita: { email: 'rita@example.com', name: 'Rita Reviewer', groups: ['attest-reviewers'] },
  aubrey: { email: 'aubrey@example.com', name: 'Aubrey Auditor', groups: ['attest-auditors'] },
  nora: { email: 'nora@example.com', name: 'Nora Nobody', groups: [] },
  ada: { email: 'ada@example.com', name: 'Ada Okafor', groups: ['attest-reviewers'] },
};
const PASSWORD = 'secret';

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'attest-test-key', use: 'sig', alg: 'RS256' };

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
    `<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; if (data.length > 10000) reject(new Error('too large')); });
    req.on('end', () => resolve(new URLSearchParams(data)));
    req.on('error', reject);
  });
}

let issuer;
const server = http.createServer();
await new Promise((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
issuer = `http://127.0.0.1:${server.address().port}`;

const redirectUris = values.redirect.length ? values.redirect : ['http://127.0.0.1:3000/auth/callback'];
const provider = new Provider(issuer, {
  clients: [
    { client_id: 'attest', client_secret: 'attest-secret', redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'] },
    { client_id: 'other-app', client_secret: 'other-secret', redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'] },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: ['attest-test-cookie-key'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  ttl: { IdToken: Number(values['id-token-ttl']), AccessToken: 3600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const person = PEOPLE[id];
    if (!person) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, email: person.email, email_verified: true, name: person.name, groups: person.groups }) };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Sign-in error', `<p class="error">${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
  },
});

const callback = provider.callback();
server.on('request', async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(\/login)?/.exec(req.url);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET' && !match[2]) {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page('Sign in to Test IdP', `
        <form method="post" action="/interaction/${escape(details.uid)}/login">
          <label>Username <input name="login" autocomplete="username" autofocus></label>
          <label>Password <input name="password" type="password" autocomplete="current-password"></label>
          <button type="submit">Sign in</button>
        </form>`));
      return;
    }
    if (req.method === 'POST' && match[2]) {
      const form = await readForm(req);
      const login = form.get('login');
      if (!PEOPLE[login] || form.get('password') !== PASSWORD) {
        res.statusCode = 401;
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(page('Sign in to Test IdP', '<p class="error">Unknown user or wrong password.</p>'));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      return;
    }
    res.statusCode = 405;
    res.end();
  } catch (err) {
    res.statusCode = 400;
    res.setHeader('content-type', 'text/plain');
    res.end(String(err.message || err));
  }
});

process.stdout.write(`issuer ${issuer}\n`);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
