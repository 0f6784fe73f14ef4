// The server's VAPID key pair (RFC 8292), which push services use to know notifications come from
// Parley: from VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY, or made once and kept beside the database.
import { createECDH, hkdfSync } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.ts';
import { readOrCreateSecret } from '../secret-file.ts';

export type Vapid = {
  /** The uncompressed P-256 public key in base64url: the `applicationServerKey` a browser subscribes with. */
  publicKey: string;
  privateKey: string;
  /** The contact push services see in each token's `sub`: a mailto: or https: URL. */
  subject: string;
  /** Keys the Web Push Topic of a conversation, so push services see no conversation ids (payload.ts). */
  topicKey: Buffer;
};

/** The public key that goes with a base64url private key, or undefined when it is not a P-256 private key. */
export function vapidPublicKeyOf(privateKey: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{43}$/.test(privateKey)) return undefined;
  const bytes = Buffer.from(privateKey, 'base64url');
  if (bytes.toString('base64url') !== privateKey) return undefined;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(bytes);
    return ecdh.getPublicKey('base64url', 'uncompressed');
  } catch {
    return undefined;
  }
}

/** A new P-256 private key, 32 bytes in base64url (as web-push makes them; node:crypto, so that a start does not load web-push). */
function newPrivateKey(): string {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const key = ecdh.getPrivateKey();
  return Buffer.concat([Buffer.alloc(32 - key.length), key]).toString('base64url');
}

function withTopicKey(publicKey: string, privateKey: string, subject: string): Vapid {
  const topicKey = Buffer.from(hkdfSync('sha256', Buffer.from(privateKey, 'base64url'), '', 'parley push topic', 32));
  return { publicKey, privateKey, subject, topicKey };
}

export type VapidSettings = { VAPID_PUBLIC_KEY?: string | undefined; VAPID_PRIVATE_KEY?: string | undefined; VAPID_SUBJECT: string; DBPATH: string };

/**
 * The VAPID keys: the settings' pair when set (config.ts has checked that they belong together);
 * otherwise a private key made once and kept as base64url text in `vapid-private-key` (mode 0600)
 * beside the database. A file that is there but does not hold a P-256 private key stops the start:
 * a new key would silently cut off every browser that subscribed with the old one.
 */
export function loadVapid(settings: VapidSettings, log: Logger): Vapid {
  if (settings.VAPID_PUBLIC_KEY !== undefined && settings.VAPID_PRIVATE_KEY !== undefined) {
    return withTopicKey(settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY, settings.VAPID_SUBJECT);
  }
  const file = join(dirname(settings.DBPATH), 'vapid-private-key');
  const fix = 'delete it to have a new one made (every browser must then subscribe again), or set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY';
  const made = () => Buffer.from(`${newPrivateKey()}\n`);
  const { content, created } = readOrCreateSecret(file, made, 'VAPID key', fix);
  const privateKey = content.toString('latin1').replace(/\n$/, '');
  const publicKey = vapidPublicKeyOf(privateKey);
  if (!publicKey) throw new Error(`the VAPID key file ${file} does not hold a P-256 private key (43 base64url characters) as Parley writes it: ${fix}`);
  if (created) log.info('generated VAPID keys', { file, public_key: publicKey });
  return withTopicKey(publicKey, privateKey, settings.VAPID_SUBJECT);
}
