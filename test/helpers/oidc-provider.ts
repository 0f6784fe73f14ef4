// A real OpenID provider (oidc-provider) in the test process, on a free port, with Parley registered as a
// client; and what a browser does there over plain HTTP: log in on its form and come back with a code.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { TestContext } from 'node:test';
import Provider from 'oidc-provider';

export const clientId = 'parley';
export const clientSecret = 'the client secret parley was given';

/** The people the provider knows, by login (its `sub` too). */
export const people: Record<string, Record<string, unknown>> = {
  alice: { preferred_username: 'alice', name: 'Alice Liddell', email: 'alice@example.com', email_verified: true },
  mallory: { preferred_username: 'mallory', name: 'Mallory', email: 'mallory@elsewhere.test', email_verified: true },
};

export type TestProvider = { issuer: string; port: number };

/**
 * Starts the provider at http://localhost:<port>. `parleys`: the origins of the Parley servers that use it,
 * each with the provider names it calls it by (their callbacks are the client's redirect URIs).
 */
export async function startProvider(t: TestContext, parleys: { origin: string; names: string[] }[]): Promise<TestProvider> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const port = (server.address() as { port: number }).port;
  const issuer = `http://localhost:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: parleys.flatMap(({ origin, names }) => names.map((name) => `${origin}/auth/oidc/${name}/callback`)),
      post_logout_redirect_uris: parleys.map(({ origin }) => `${origin}/`),
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, ...people[id] }) }),
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    // Parley is a first party: no consent page, the grant is there from the start.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    cookies: { keys: ['a test cookie key'] },
  });
  server.on('request', provider.callback());
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { issuer, port };
}

/** A browser's cookies for one host, enough for these flows (paths and expiry are not looked at). */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/**
 * Goes through the provider from its authorization URL: logs in as `login` on its form, follows its
 * redirects, and returns the URL it sends the browser back to (Parley's callback, not fetched).
 */
export async function authorize(authorization: string, login: string): Promise<URL> {
  const jar = new Jar();
  let url = new URL(authorization);
  for (let step = 0; step < 10; step++) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.take(response);
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, url);
      if (next.pathname.includes('/auth/oidc/')) return next;
      url = next;
      continue;
    }
    const page = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(page);
    assert.ok(response.status === 200 && action, `the provider answered ${response.status}: ${page}`);
    const submitted = await fetch(new URL(action[1]!.replace(/&amp;/g, '&'), url), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ prompt: 'login', login, password: 'anything' }),
    });
    jar.take(submitted);
    url = new URL(submitted.headers.get('location')!, url);
  }
  throw new Error('the provider never sent the browser back');
}
