// The client's address: the socket's peer, or behind trusted reverse proxies the address they forwarded.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Settings } from '../config.ts';

/**
 * One spelling per address, so that a throttle keyed by it cannot be dodged by writing it
 * differently: IPv6 compressed and lower-case (as a URL host serialises it), an IPv4-mapped IPv6
 * address (what a dual-stack listener reports for an IPv4 client) as plain IPv4. Undefined when it
 * is not an address.
 */
export function canonicalAddress(text: string): string | undefined {
  if (isIPv4(text)) return text;
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** A forwarded node: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`. */
function node(text: string): string | undefined {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text);
  if (bracketed) return isIPv6(bracketed[1]!) ? canonicalAddress(bracketed[1]!) : undefined;
  const withPort = /^([\d.]+):\d{1,5}$/.exec(text);
  return canonicalAddress(withPort ? withPort[1]! : text);
}

/** The hops of an `X-Forwarded-For` value, oldest first; undefined for one that is not an address. */
export function parseForwardedFor(value: string): (string | undefined)[] {
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '').map(node);
}

/**
 * The `for=` hops of an RFC 7239 `Forwarded` value, oldest first; undefined for an element without
 * one, or whose node is not an address (`unknown`, an obfuscated `_name`). Quoted strings may hold
 * `,` `;` and `\`-escapes.
 */
export function parseForwarded(value: string): (string | undefined)[] {
  const hops: (string | undefined)[] = [];
  let pairs: string[] = [];
  let current = '';
  let quoted = false;
  const endPair = () => {
    if (current.trim() !== '') pairs.push(current.trim());
    current = '';
  };
  const endElement = () => {
    endPair();
    if (pairs.length === 0) return;
    const target = pairs.find((pair) => /^for\s*=/i.test(pair));
    const raw = target?.slice(target.indexOf('=') + 1).trim();
    const unquoted = raw?.startsWith('"') ? (raw.endsWith('"') && raw.length > 1 ? raw.slice(1, -1) : undefined) : raw;
    hops.push(unquoted === undefined ? undefined : node(unquoted));
    pairs = [];
  };
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (quoted && char === '\\' && i + 1 < value.length) {
      current += value[++i];
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (!quoted && char === ';') endPair();
    else if (!quoted && char === ',') endElement();
    else current += char;
  }
  if (quoted) return [undefined]; // an unterminated quote: the whole header is malformed
  endElement();
  return hops;
}

/**
 * Walks the hops from the right, starting at the peer: while the address in hand is a trusted
 * proxy, the hop it forwarded is the next candidate. The first untrusted address is the client
 * (anything further left was written by the client and is never believed); if every hop is
 * trusted, the leftmost. A malformed hop, or none at all, leaves the peer.
 */
export function clientFrom(peer: string, hops: readonly (string | undefined)[], trusted: (address: string) => boolean): string {
  let address = peer;
  for (let i = hops.length - 1; i >= 0 && trusted(address); i--) {
    const hop = hops[i];
    if (hop === undefined) return peer;
    address = hop;
  }
  return address;
}

export type ClientAddress = (res: HttpResponse, req: HttpRequest) => string;

/** Reads a request's client address (while the uWS request is still valid) as TRUST_PROXY says. */
export function createClientAddress(settings: Pick<Settings, 'TRUST_PROXY' | 'TRUST_PROXY_HEADER'>): ClientAddress {
  const peerOf = (res: HttpResponse) => {
    const text = Buffer.from(res.getRemoteAddressAsText()).toString();
    return canonicalAddress(text) ?? text;
  };
  if (settings.TRUST_PROXY.length === 0) return peerOf;
  const proxies = new BlockList();
  for (const { address, prefix, family } of settings.TRUST_PROXY) {
    if (prefix === undefined) proxies.addAddress(address, family);
    else proxies.addSubnet(address, prefix, family);
  }
  const trusted = (address: string) => (isIPv4(address) ? proxies.check(address, 'ipv4') : isIPv6(address) && proxies.check(address, 'ipv6'));
  const header = settings.TRUST_PROXY_HEADER.toLowerCase();
  const parse = header === 'forwarded' ? parseForwarded : parseForwardedFor;
  return (res, req) => {
    const peer = peerOf(res);
    if (!trusted(peer)) return peer;
    // A header may come in several lines; together they are one list (RFC 9110, 5.3).
    const lines: string[] = [];
    req.forEach((name, value) => {
      if (name === header) lines.push(value);
    });
    return clientFrom(peer, lines.length ? parse(lines.join(',')) : [], trusted);
  };
}
