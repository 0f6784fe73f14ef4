// OIDC_PROVIDERS: the OpenID Connect providers people may log in with, read from JSON (inline or a file) at start.
import { readFileSync } from 'node:fs';
import * as v from 'valibot';

const setting = 'OIDC_PROVIDERS';

/** http:// is for a provider on this machine (tests, development); anywhere else tokens would cross the network in clear. */
const isIssuer = (value: string) => {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  return (url.protocol === 'https:' || (url.protocol === 'http:' && local)) && !url.search && !url.hash && !url.username && !url.password;
};

const provider = v.strictObject({
  name: v.pipe(
    v.string(),
    v.regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, `${setting}: a provider's "name" must be 1 to 32 lower-case letters, digits, "_" or "-" (it is in the URL /auth/oidc/<name>)`),
    v.check((name) => name !== 'logout', `${setting}: a provider may not be named "logout" (/auth/oidc/logout is the logout route)`),
  ),
  issuer: v.pipe(v.string(), v.check(isIssuer, `${setting}: a provider's "issuer" must be an https:// URL (http:// only on localhost), such as https://login.example.com/realms/staff`)),
  client_id: v.pipe(v.string(), v.nonEmpty(`${setting}: a provider's "client_id" must not be empty`)),
  client_secret_file: v.pipe(v.string(), v.nonEmpty(`${setting}: a provider's "client_secret_file" must name the file holding its client secret`)),
  scopes: v.optional(
    v.pipe(v.array(v.pipe(v.string(), v.regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/))), v.check((scopes) => scopes.includes('openid'), `${setting}: a provider's "scopes" must include openid`)),
    ['openid', 'email', 'profile'],
  ),
  username_claim: v.optional(v.pipe(v.string(), v.nonEmpty()), 'preferred_username'),
  email_domains: v.optional(v.array(v.pipe(v.string(), v.regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, `${setting}: "email_domains" must list domains such as example.com`), v.toLowerCase())), []),
  link_by_email: v.optional(v.boolean(), false),
});

export type OidcProvider = v.InferOutput<typeof provider> & { readonly client_secret: string };

const providers = v.pipe(v.array(provider), v.check((list) => new Set(list.map(({ name }) => name)).size === list.length, `${setting}: two providers have the same "name"`));

/**
 * The providers: JSON text (an array, starting with `[`) or the path of a file holding it; each
 * provider's client secret is read from its file now. A problem is one message naming the setting.
 */
export function parseOidcProviders(text: string): OidcProvider[] {
  const source = text.trimStart().startsWith('[') ? text : readText(text, 'the file');
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch (error) {
    throw new Error(`${setting} must be a JSON array of providers (or the path of a file holding one): ${(error as Error).message}`);
  }
  const parsed = v.safeParse(providers, json);
  if (!parsed.success) {
    const [issue] = parsed.issues;
    const where = issue.path?.map((item) => String(item.key)).join('.');
    throw new Error(issue.message.startsWith(setting) ? issue.message : `${setting}: ${where ? `${where}: ` : ''}${issue.message}`);
  }
  return parsed.output.map((entry) => {
    const secret = readText(entry.client_secret_file, `provider ${entry.name}'s client_secret_file`).trim();
    if (!secret) throw new Error(`${setting}: provider ${entry.name}'s client_secret_file ${entry.client_secret_file} is empty`);
    return { ...entry, client_secret: secret };
  });
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${setting}: ${what} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
