// The VAPID keys: made once and kept beside the database (0600), or set in the environment; a damaged
// key file stops the start untouched; the push settings are checked like every other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import webpush from 'web-push';
import { createLogger } from '../src/log.ts';
import { readSettings } from '../src/config.ts';
import { loadVapid, vapidPublicKeyOf } from '../src/push/vapid.ts';
import { runServerExpectingExit } from './helpers/server.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-vapid-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function recordingLog() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger('debug', (line) => void lines.push(JSON.parse(line) as Record<string, unknown>)) };
}

const subject = 'mailto:ops@chat.example.com';

test('without settings, a key pair is made on first start, kept in vapid-private-key (0600) and used again after', (t) => {
  const dir = tempDir(t);
  const settings = { VAPID_SUBJECT: subject, DBPATH: join(dir, 'parley.db') };
  const first = recordingLog();
  const made = loadVapid(settings, first.log);
  const file = join(dir, 'vapid-private-key');
  assert.equal(readFileSync(file, 'utf8'), `${made.privateKey}\n`);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(made.publicKey, /^[A-Za-z0-9_-]{87}$/);
  assert.equal(Buffer.from(made.publicKey, 'base64url')[0], 4, 'uncompressed point');
  assert.equal(vapidPublicKeyOf(made.privateKey), made.publicKey);
  assert.deepEqual(first.lines.map((line) => [line.msg, line.file, line.public_key]), [['generated VAPID keys', file, made.publicKey]]);

  const again = recordingLog();
  const kept = loadVapid(settings, again.log);
  assert.deepEqual(kept, made, 'the same keys, and so the same topic key');
  assert.deepEqual(again.lines, []);
  // The pair works with the library that signs: a token for a push service's origin.
  const header = webpush.getVapidHeaders('https://fcm.googleapis.com', subject, kept.publicKey, kept.privateKey, 'aes128gcm');
  assert.match(header.Authorization, new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${kept.publicKey}$`));
});

test('a damaged key file stops the start and is left as it is', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'vapid-private-key');
  const good = webpush.generateVAPIDKeys().privateKey;
  for (const content of ['', good.slice(0, 20), `${good}x\n`, `${good}\n\n`, '!'.repeat(43), `${'_'.repeat(43)}\n`, `${'A'.repeat(43)}\n`]) {
    writeFileSync(file, content);
    assert.throws(() => loadVapid({ VAPID_SUBJECT: subject, DBPATH: join(dir, 'parley.db') }, recordingLog().log), {
      message: `the VAPID key file ${file} does not hold a P-256 private key (43 base64url characters) as Parley writes it: delete it to have a new one made (every browser must then subscribe again), or set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY`,
    }, JSON.stringify(content));
    assert.equal(readFileSync(file, 'utf8'), content);
  }
});

test('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are used as they are, and no file is made', (t) => {
  const dir = tempDir(t);
  const pair = webpush.generateVAPIDKeys();
  const settings = readSettings({ VAPID_PUBLIC_KEY: pair.publicKey, VAPID_PRIVATE_KEY: pair.privateKey, VAPID_SUBJECT: subject, DBPATH: join(dir, 'parley.db') });
  const vapid = loadVapid(settings, recordingLog().log);
  assert.deepEqual([vapid.publicKey, vapid.privateKey, vapid.subject], [pair.publicKey, pair.privateKey, subject]);
  assert.equal(vapid.topicKey.length, 32);
  assert.throws(() => statSync(join(dir, 'vapid-private-key')), { code: 'ENOENT' });
});

test('push settings: defaults, and bad values named', () => {
  const defaults = readSettings({});
  assert.deepEqual(
    [defaults.VAPID_PUBLIC_KEY, defaults.VAPID_PRIVATE_KEY, defaults.VAPID_SUBJECT, defaults.PUSH_WEBHOOK_URL, defaults.PUSH_WEBHOOK_SECRET, defaults.PUSH_PREVIEW, defaults.PUSH_COALESCE_SECONDS, defaults.PUSH_TTL_SECONDS, defaults.PUSH_CONCURRENCY],
    [undefined, undefined, 'mailto:parley@localhost', undefined, undefined, true, 30, 86_400, 32],
  );
  assert.deepEqual(defaults.PUSH_ENDPOINT_HOSTS.map((rule) => rule.host), ['fcm.googleapis.com', 'updates.push.services.mozilla.com', 'push.apple.com', 'notify.windows.com']);
  assert.deepEqual(readSettings({ PUSH_ENDPOINT_HOSTS: '' }).PUSH_ENDPOINT_HOSTS, [], 'empty: no Web Push endpoint is accepted');
  const pair = webpush.generateVAPIDKeys();
  const other = webpush.generateVAPIDKeys();
  const secret = 'x'.repeat(32);
  const cases: [Record<string, string>, string][] = [
    [{ VAPID_PUBLIC_KEY: pair.publicKey }, 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together: set both, or neither to have a pair made and kept beside the database'],
    [{ VAPID_PRIVATE_KEY: pair.privateKey }, 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together'],
    [{ VAPID_PUBLIC_KEY: other.publicKey, VAPID_PRIVATE_KEY: pair.privateKey }, 'VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY'],
    [{ VAPID_PUBLIC_KEY: pair.publicKey, VAPID_PRIVATE_KEY: 'short' }, 'VAPID_PRIVATE_KEY must be a P-256 private key: 32 bytes in base64url (43 characters), as npx web-push generate-vapid-keys prints'],
    [{ VAPID_SUBJECT: 'ops@chat.example.com' }, 'VAPID_SUBJECT must be a mailto: address or an https: URL where the push services can reach you, such as mailto:ops@chat.example.com'],
    [{ VAPID_SUBJECT: 'http://chat.example.com' }, 'VAPID_SUBJECT must be a mailto: address or an https: URL'],
    [{ PUSH_ENDPOINT_HOSTS: 'browsers,https://push.example' }, 'PUSH_ENDPOINT_HOSTS must list browsers, host names, host:port, *.domain or IP addresses with a port (not "https://push.example")'],
    [{ PUSH_WEBHOOK_URL: 'https://bridge.example/parley' }, 'PUSH_WEBHOOK_URL and PUSH_WEBHOOK_SECRET go together: the secret signs every webhook call'],
    [{ PUSH_WEBHOOK_SECRET: secret }, 'PUSH_WEBHOOK_URL and PUSH_WEBHOOK_SECRET go together'],
    [{ PUSH_WEBHOOK_URL: 'ftp://bridge.example', PUSH_WEBHOOK_SECRET: secret }, 'PUSH_WEBHOOK_URL must be an http:// or https:// URL without a user name, password or fragment, such as https://bridge.internal/parley'],
    [{ PUSH_WEBHOOK_URL: 'https://user:pass@bridge.example', PUSH_WEBHOOK_SECRET: secret }, 'PUSH_WEBHOOK_URL must be an http:// or https:// URL without a user name'],
    [{ PUSH_WEBHOOK_URL: 'https://bridge.example', PUSH_WEBHOOK_SECRET: 'short' }, 'PUSH_WEBHOOK_SECRET must be at least 32 characters (e.g. openssl rand -hex 32)'],
    [{ PUSH_PREVIEW: 'no' }, 'PUSH_PREVIEW must be one of true, false'],
    [{ PUSH_COALESCE_SECONDS: '3601' }, 'PUSH_COALESCE_SECONDS must be a whole number from 0 to 3600'],
    [{ PUSH_TTL_SECONDS: '2419201' }, 'PUSH_TTL_SECONDS must be a whole number from 0 to 2419200'],
    [{ PUSH_CONCURRENCY: '0' }, 'PUSH_CONCURRENCY must be a whole number from 1 to 1000'],
  ];
  for (const [env, message] of cases) assert.throws(() => readSettings(env), (error: Error) => error.message.includes(message), `${JSON.stringify(env)}`);
  const set = readSettings({ VAPID_PUBLIC_KEY: pair.publicKey, VAPID_PRIVATE_KEY: pair.privateKey, VAPID_SUBJECT: 'https://chat.example.com/contact', PUSH_ENDPOINT_HOSTS: '127.0.0.1:8443', PUSH_WEBHOOK_URL: 'http://127.0.0.1:9000/parley', PUSH_WEBHOOK_SECRET: secret, PUSH_PREVIEW: 'false' });
  assert.deepEqual([set.VAPID_SUBJECT, set.PUSH_ENDPOINT_HOSTS, set.PUSH_WEBHOOK_URL, set.PUSH_PREVIEW], ['https://chat.example.com/contact', [{ host: '127.0.0.1', port: '8443', wildcard: false, publicOnly: false }], 'http://127.0.0.1:9000/parley', false]);
});

test('a bad push setting stops the server with its message', async (t) => {
  const dir = tempDir(t);
  const pair = webpush.generateVAPIDKeys();
  const { code, output } = await runServerExpectingExit({ DBPATH: join(dir, 'parley.db'), VAPID_PUBLIC_KEY: pair.publicKey });
  assert.equal(code, 1);
  assert.ok(output.includes('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together'), output);
  assert.ok(!output.includes('"msg":"listening"'));
});
