// The administration command line, run against the server's database (DBPATH): `npm run admin -- <command> <username>`.
import { readSettings } from './config.ts';
import { createStore, openDatabase } from './storage/index.ts';

const usage = 'usage: npm run admin -- grant-admin <username> | revoke-admin <username>';
const roles = { 'grant-admin': 'admin', 'revoke-admin': 'user' } as const;

const [command, username, ...extra] = process.argv.slice(2);
if (!command || !(command in roles) || !username || extra.length) {
  console.error(usage);
  process.exit(2);
}
const settings = readSettings(process.env);
const store = createStore(openDatabase(settings.DBPATH));
const user = store.users.byUsername(username);
if (!user) {
  console.error(`no such user '${username}' in ${settings.DBPATH}`);
  process.exit(1);
}
const role = roles[command as keyof typeof roles];
store.users.setRole(user.id, role);
store.db.close();
console.log(`${user.username} is now ${role === 'admin' ? 'an admin' : 'a plain user'}`);
