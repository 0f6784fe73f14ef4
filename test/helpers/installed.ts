// Programs from Debian's packages that some tests drive: a test that needs a missing one is skipped
// with one line saying what to install — except under CI, where it fails instead.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * The folder of PostgreSQL's server programs (initdb, pg_ctl, postgres): Debian's
 * /usr/lib/postgresql/<newest>/bin, else wherever initdb is on the PATH.
 */
export function postgresBin(): string | undefined {
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian) ? readdirSync(debian).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : [];
  const candidates = [...versions.map((version) => join(debian, version, 'bin')), ...(process.env.PATH ?? '').split(delimiter)];
  return candidates.find((dir) => dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

/** What each component is, where it is looked for, and the Debian package that brings it. */
export const components = {
  postgres: { what: 'PostgreSQL', where: '/usr/lib/postgresql/*/bin/initdb', package: 'postgresql', found: () => postgresBin() !== undefined },
  redis: { what: 'Redis', where: '/usr/bin/redis-server', package: 'redis-server', found: () => existsSync('/usr/bin/redis-server') },
  nginx: { what: 'nginx', where: '/usr/sbin/nginx', package: 'nginx', found: () => existsSync('/usr/sbin/nginx') },
} as const;

export type Component = keyof typeof components;

/** The components of `names` that are not installed. */
export const missing = (names: readonly Component[]): Component[] => names.filter((name) => !components[name].found());

/** "apt-get install -y postgresql redis-server" for what is missing. */
export const installLine = (names: readonly Component[]): string => `apt-get install -y ${names.map((name) => components[name].package).join(' ')}`;

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

/** Whether every component is installed: otherwise the test is skipped with one line (failed under CI). */
export function needs(t: TestContext, ...names: Component[]): boolean {
  const absent = missing(names);
  if (absent.length === 0) return true;
  const what = absent.map((name) => `${components[name].what} (${components[name].where})`).join(' and ');
  if (process.env.CI) assert.fail(`${what} required in CI: ${installLine(absent)}`);
  t.skip(`${what} not installed: ${installLine(absent)} to run this test`);
  return false;
}
