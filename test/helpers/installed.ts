// Programs from Debian packages that some tests need: a test skips with how to install one, except under CI.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** Whether a program this test needs is installed: skipped with a line saying how to get it, except in CI. */
export function installed(t: TestContext, path: string, packageName: string): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI) assert.fail(`${path} is required in CI (apt-get install ${packageName})`);
  t.skip(`${path} not installed: apt-get install -y ${packageName} to run this test`);
  return false;
}

export const openssl = '/usr/bin/openssl';

/** A self-signed P-256 certificate for 127.0.0.1 made by openssl in `dir`: `key.pem` and `cert.pem`. */
export function selfSignedCertificate(dir: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { key, cert };
}
