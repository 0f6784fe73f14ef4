// Which push endpoints Parley sends to: a client hands over a URL, and only a browser's push service
// (or a host the operator lists in PUSH_ENDPOINT_HOSTS) may be behind it, never the operator's own network.
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { ECDH } from 'node:crypto';
import type { Subscription } from './types.ts';

/**
 * One entry of PUSH_ENDPOINT_HOSTS. `host` as the WHATWG URL parser writes it (lower case, punycode,
 * IPv6 in brackets); `port` '' for 443; `wildcard`: any host of exactly one more label below `host`
 * (as in a TLS wildcard certificate); `publicOnly`: the host must resolve to public addresses only.
 */
export type EndpointRule = { host: string; port: string; wildcard: boolean; publicOnly: boolean };

/**
 * The browsers' push services (`browsers` in PUSH_ENDPOINT_HOSTS): Chrome and the other Chromium
 * browsers use Firebase Cloud Messaging (fcm.googleapis.com), Firefox Mozilla's autopush, Safari
 * Apple's service (web.push.apple.com; Apple names *.push.apple.com), Edge Windows Push Notification
 * Services (wns2-xxx.notify.windows.com and the like).
 */
const browserPushHosts = ['fcm.googleapis.com', 'updates.push.services.mozilla.com', '*.push.apple.com', '*.notify.windows.com'] as const;

/** Longest endpoint accepted: the browsers' are 150 to 500 characters. */
const maxEndpointLength = 2048;

const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Parses one PUSH_ENDPOINT_HOSTS entry (`host`, `host:port`, `*.suffix`, `[v6]:port`); undefined when it is not one. */
function parseRule(entry: string, publicOnly: boolean): EndpointRule | undefined {
  const wildcard = entry.startsWith('*.');
  const rest = (wildcard ? entry.slice(2) : entry).toLowerCase();
  if (!rest || /[/?#@\\\s]/.test(rest) || !URL.canParse(`https://${rest}`)) return undefined;
  const url = new URL(`https://${rest}`);
  // Only canonical spellings (the default port may be written): what is written is what an endpoint's host must be.
  if ((url.host !== rest && `${url.host}:443` !== rest) || url.pathname !== '/') return undefined;
  // A wildcard stands for one label below a name of at least two (`*.push.apple.com`, never `*.com`).
  if (wildcard && (isIP(url.hostname) || url.hostname.startsWith('[') || !url.hostname.includes('.'))) return undefined;
  if (!url.hostname.startsWith('[') && !isIP(url.hostname) && !url.hostname.split('.').every((part) => label.test(part))) return undefined;
  return { host: url.hostname, port: url.port, wildcard, publicOnly };
}

/**
 * PUSH_ENDPOINT_HOSTS (or another setting of hosts, `setting`, where `browsers` means nothing),
 * comma-separated, into rules; throws naming the first entry that is not one.
 */
export function parseEndpointHosts(text: string, setting = 'PUSH_ENDPOINT_HOSTS'): EndpointRule[] {
  const rules: EndpointRule[] = [];
  const browsers = setting === 'PUSH_ENDPOINT_HOSTS';
  for (const entry of text.split(',').map((item) => item.trim()).filter((item) => item !== '')) {
    if (browsers && entry === 'browsers') {
      rules.push(...browserPushHosts.map((host) => parseRule(host, true)!));
      continue;
    }
    const rule = parseRule(entry, false);
    if (!rule) throw new Error(`${setting} must list ${browsers ? 'browsers, ' : ''}host names, host:port, *.domain or IP addresses with a port (not ${JSON.stringify(entry)})`);
    rules.push(rule);
  }
  return rules;
}

/** The rule an endpoint's host and port fall under, if any. */
export function ruleFor(url: URL, rules: readonly EndpointRule[]): EndpointRule | undefined {
  return rules.find((rule) => {
    if (rule.port !== url.port) return false;
    if (!rule.wildcard) return url.hostname === rule.host;
    const suffix = `.${rule.host}`;
    return url.hostname.endsWith(suffix) && label.test(url.hostname.slice(0, -suffix.length));
  });
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * An endpoint Parley may send to: https, no user name or password, no fragment, a host and port that
 * a rule allows, and written exactly as the URL parser writes it (so what is checked is what is sent,
 * whichever parser reads it later).
 */
export function checkEndpoint(endpoint: string, rules: readonly EndpointRule[]): Checked<URL> {
  if (endpoint.length > maxEndpointLength) return { ok: false, error: `endpoint may be at most ${maxEndpointLength} characters` };
  if (!URL.canParse(endpoint)) return { ok: false, error: 'endpoint must be an https URL' };
  const url = new URL(endpoint);
  if (url.protocol !== 'https:') return { ok: false, error: 'endpoint must be an https URL' };
  if (url.username || url.password) return { ok: false, error: 'endpoint must not hold a user name or password' };
  if (url.hash || endpoint.includes('#')) return { ok: false, error: 'endpoint must not have a fragment' };
  if (!ruleFor(url, rules)) return { ok: false, error: `endpoint host ${url.host} is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)` };
  if (url.href !== endpoint) return { ok: false, error: `endpoint must be written as a URL parser writes it (${JSON.stringify(url.href)})` };
  return { ok: true, value: url };
}

/** Base64url (padding tolerated) decoding to exactly `length` bytes; the canonical unpadded text, or undefined. */
function base64url(text: string, length: number): string | undefined {
  const bare = text.replace(/={1,2}$/, '');
  if (!/^[A-Za-z0-9_-]+$/.test(bare)) return undefined;
  const bytes = Buffer.from(bare, 'base64url');
  return bytes.length === length && bytes.toString('base64url') === bare ? bare : undefined;
}

/**
 * A subscription as `PushManager.subscribe()` gives it: an allowed endpoint, `p256dh` a P-256 public
 * key (65 bytes, uncompressed, on the curve) and `auth` a 16-byte secret. Keys come back unpadded.
 */
export function checkSubscription(subscription: Subscription, rules: readonly EndpointRule[]): Checked<Subscription> {
  const endpoint = checkEndpoint(subscription.endpoint, rules);
  if (!endpoint.ok) return endpoint;
  const p256dh = base64url(subscription.keys.p256dh, 65);
  let onCurve = false;
  try {
    onCurve = p256dh !== undefined && Buffer.from(p256dh, 'base64url')[0] === 4 && ECDH.convertKey(p256dh, 'prime256v1', 'base64url').length > 0;
  } catch {
    // not a point of P-256
  }
  if (!p256dh || !onCurve) return { ok: false, error: 'keys.p256dh must be a P-256 public key: 65 bytes, uncompressed, in base64url' };
  const auth = base64url(subscription.keys.auth, 16);
  if (!auth) return { ok: false, error: 'keys.auth must be 16 bytes in base64url' };
  return { ok: true, value: { endpoint: subscription.endpoint, keys: { p256dh, auth } } };
}

/**
 * Addresses that are not the public internet: loopback, private, link-local, shared, multicast, reserved,
 * documentation. A BlockList matches IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) against the IPv4 rules.
 */
const nonPublic = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) nonPublic.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 127], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) nonPublic.addSubnet(net, prefix, 'ipv6');

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && !nonPublic.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for sockets to the browsers' push services: resolves as usual, but fails when any address
 * is not public, so a poisoned or split-horizon DNS answer cannot point Parley into its own network.
 */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const inside = addresses.find((entry) => !isPublicAddress(entry.address));
    if (inside) {
      const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${inside.address}, which is not a public address`);
      refused.code = 'ENOTPUBLIC';
      return callback(refused, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}
