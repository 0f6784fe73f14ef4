// Pointed at the seed backend's chatapp.db, Parley adopts it: same ids, old passwords, contacts,
// conversations and messages, a backup copy beside it, and Parley's own features working on the adopted data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runServerExpectingExit, startServer, testSecret, type TestServer } from './helpers/server.ts';
import { hasScript, runAdmin } from './helpers/admin.ts';
import { connect, person } from './helpers/clients.ts';
import { http, tokenFrom } from './helpers/http.ts';

// The seed's schema as its server created it (shared/protocol-compat.md): user_version 0, five tables.
const seedSchema = `
  CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, fullname TEXT NOT NULL, password TEXT NOT NULL,
    is_online INTEGER NOT NULL DEFAULT 0, last_online INTEGER DEFAULT (strftime('%s', 'now')), created_at INTEGER DEFAULT (strftime('%s', 'now')));
  CREATE TABLE contacts (user_id INTEGER, contact_id INTEGER, PRIMARY KEY (user_id, contact_id),
    FOREIGN KEY (user_id) REFERENCES users (id), FOREIGN KEY (contact_id) REFERENCES users (id));
  CREATE TABLE conversations (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
  CREATE TABLE members (conversation_id INTEGER NOT NULL, user_id INTEGER NOT NULL, PRIMARY KEY (conversation_id, user_id),
    FOREIGN KEY (conversation_id) REFERENCES conversations (id), FOREIGN KEY (user_id) REFERENCES users (id));
  CREATE TABLE messages (id INTEGER NOT NULL PRIMARY KEY, sender_id INTEGER NOT NULL, conversation_id INTEGER NOT NULL, reply_id INTEGER,
    sent_at INTEGER DEFAULT (strftime('%s', 'now')), content TEXT,
    FOREIGN KEY (sender_id) REFERENCES users (id), FOREIGN KEY (conversation_id) REFERENCES conversations (id), FOREIGN KEY (reply_id) REFERENCES messages (id));`;

// Written by argon2-cffi 21.1.0 (Debian's python3-argon2): PasswordHasher() defaults of that release,
// m=102400,t=2,p=8 with a 16-byte hash, and those of 23.1 (the seed's pin), m=65536,t=3,p=4 with 32 bytes.
const accounts = [
  { id: 1, username: 'alice', password: 'alice password 1', hash: '$argon2id$v=19$m=65536,t=3,p=4$jyN/x7L7ngC6EYQK0NHTbQ$UPA1QlBiZlmEbCueqpOHVIEeAqVvX0gqljpdpv0oy4s' },
  { id: 2, username: 'bob', password: 'bob-secret-22', hash: '$argon2id$v=19$m=102400,t=2,p=8$FsdHMc6bz07oRuo2157ipw$x/JFJp2jrm6F3CT/DRDT/Q' },
  { id: 3, username: 'carol', password: 'carol pw 333', hash: '$argon2id$v=19$m=65536,t=3,p=4$GSEcClWzlWS8OHtR7+hD5w$rqj3siISHznv6cuRRcVshJ2D1Kyyaqs8APD+XX1JU2g' },
  // Differs from alice only in case: Parley's usernames are unique without regard to case.
  { id: 4, username: 'Alice', password: 'upper alice 4444', hash: '$argon2id$v=19$m=102400,t=2,p=8$sRl4XSXb09fn+v8BVbutGA$vIlyHhiTpfcDh6uEMO7FlQ' },
  // A name Parley's registration would refuse (a space): kept, it is how dave logs in.
  { id: 6, username: 'dave smith', password: 'dave pw 55555', hash: '$argon2id$v=19$m=65536,t=3,p=4$+jwKKgXlecm61InVxUtz5w$dzPgYQXNbgILY5l9Ddo9ISGbRDzudLhSHcuJnLd8+0Y' },
];

/** A chatapp.db as the seed's server leaves it: a three-member room with a reply, a pair, an idle room, two-way contacts. */
function makeSeedDatabase(path: string, schema = seedSchema): void {
  const db = new Database(path);
  db.pragma('foreign_keys = OFF'); // as in Python's sqlite3, which the seed used: its references were never enforced
  db.exec(schema);
  const user = db.prepare('INSERT INTO users (id, username, fullname, password, is_online, last_online, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (const { id, username, hash } of accounts) user.run(id, username, `Full ${username}`, hash, id === 1 ? 1 : 0, 1_700_000_500 + id, 1_700_000_000 + id);
  user.run(7, 'eve', 'Eve', 'not an argon2 hash', 0, null, null); // cannot log in until a reset; no times recorded
  const contact = db.prepare('INSERT INTO contacts (user_id, contact_id) VALUES (?, ?)');
  for (const [a, b] of [[1, 3], [3, 1], [1, 2], [2, 1], [3, 6]]) contact.run(a, b); // carol → dave is one-way: Parley adds the other way
  db.exec(`INSERT INTO conversations (id, name) VALUES (1, 'trio'), (2, 'pair'), (5, 'quiet');
    INSERT INTO members (conversation_id, user_id) VALUES (1, 3), (1, 1), (1, 2), (2, 1), (2, 6), (5, 4), (5, 1);
    INSERT INTO messages (id, sender_id, conversation_id, reply_id, sent_at, content) VALUES
      (10, 2, 1, NULL, 1700001000, 'hello trio from bob'),
      (11, 1, 1, NULL, 1700001010, 'hi bob'),
      (15, 3, 1, 10, 1700001020, 'replying to bob'),
      (16, 6, 2, 11, 1700001030, 'a reply across conversations'),
      (20, 6, 2, NULL, 1700001040, 'dave in the pair'),
      (30, 2, 99, NULL, 1700001050, 'lost: conversation 99 does not exist');`);
  db.close();
}

const rowsOf = (path: string) => {
  const db = new Database(path, { readonly: true });
  const rows = Object.fromEntries(['users', 'contacts', 'conversations', 'members', 'messages'].map((table) => [table, db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all()]));
  db.close();
  return rows;
};

async function logIn(server: TestServer, username: string, password: string) {
  return http(server.http, 'POST', '/auth/login', { body: { username, password } });
}

test('the seed backend\'s database is adopted: old passwords, ids, contacts, conversations and messages', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-adopt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'chatapp.db');
  makeSeedDatabase(dbPath);
  const original = join(dir, 'original.copy');
  copyFileSync(dbPath, original);

  const server = await startServer(t, { DBPATH: dbPath }, dir);
  const adopted = await server.waitForLog((line) => line.msg === 'adopted the seed backend\'s database');
  const backup = adopted.backup as string;
  assert.deepEqual({ ...adopted, time: undefined, backup: undefined }, {
    time: undefined, level: 'info', msg: 'adopted the seed backend\'s database', backup: undefined,
    users: 6, contacts: 3, conversations: 3, members: 7, messages: 5, replies: 1, unusable_hashes: 1, renamed: 1,
    skipped: { contacts: 0, members: 0, messages: 1, replies: 1 },
  });
  const renamed = server.logs.find((line) => line.msg === 'renamed an account whose username differs from an older one only in case');
  assert.deepEqual([renamed?.id, renamed?.from, renamed?.to], [4, 'Alice', 'Alice_4']);
  const unusable = server.logs.find((line) => line.msg === 'accounts whose password is not an argon2 hash cannot log in until it is reset');
  assert.equal(unusable?.accounts, 1);
  // The copy beside it holds exactly what the seed's file held.
  assert.match(backup, new RegExp(`^${dbPath}\\.seed-backup-\\d{4}-\\d\\d-\\d\\dT`));
  assert.deepEqual(rowsOf(backup), rowsOf(original));

  // Everyone logs in with their old password, whichever argon2-cffi release hashed it.
  for (const { username, password } of accounts.filter(({ id }) => id !== 4)) {
    const result = await logIn(server, username, password);
    assert.deepEqual([result.status, result.body], [202, 'login successful'], username);
  }
  assert.equal((await logIn(server, 'Alice_4', 'upper alice 4444')).status, 202);
  assert.deepEqual((await logIn(server, 'Alice', 'upper alice 4444')).body, 'mismatch username and password', '"Alice" is alice now');
  assert.equal((await logIn(server, 'bob', 'wrong password')).status, 401);

  const alice = await connect(server, tokenFrom(await logIn(server, 'alice', 'alice password 1')));
  const self = await alice.request('self');
  assert.deepEqual([self.username, self.fullname, self.created_at], ['alice', 'Full alice', 1_700_000_001]);
  const dave = await alice.request('get_user', { username: 'dave smith' });
  assert.deepEqual([dave.username, dave.created_at, dave.last_online, dave.is_online], ['dave smith', 1_700_000_006, 1_700_000_506, false]);
  const eve = await alice.request('get_user', { username: 'eve' });
  assert.equal(eve.created_at, eve.last_online, 'missing times become the time of adoption');
  assert.ok(Math.abs(eve.created_at - Date.now() / 1000) < 60);
  assert.deepEqual((await alice.request('get_contacts')).contacts.map((c) => c.username), ['carol', 'bob']);
  const conversations = await alice.request('get_conversations');
  assert.deepEqual(
    conversations.map(({ id, name, kind, role, member_count, unread_count, last_message }) => [id, name, kind, role, member_count, unread_count, last_message?.id]),
    [[1, 'trio', 'group', 'member', 3, 0, 15], [2, 'pair', 'group', 'member', 2, 0, 20], [5, 'quiet', 'group', 'owner', 2, 0, undefined]],
  );
  // The owner is the member who wrote first (bob), listed first; in 'quiet', with no messages, the longest-registered.
  const members = await alice.request('get_members', { conversation_id: 1 });
  assert.deepEqual(members.map(({ username, role }) => [username, role]), [['bob', 'owner'], ['carol', 'member'], ['alice', 'member']]);
  assert.deepEqual((await alice.request('get_conversation_info', { id: 5 })).members, ['alice', 'Alice_4']);

  const history = await alice.request('get_messages', { conversation_id: 1 });
  assert.deepEqual(history.messages.map(({ id, sender_username, reply_id, content, sent_at, reply_to }) => [id, sender_username, reply_id, content, sent_at, reply_to?.id]), [
    [15, 'carol', 10, 'replying to bob', 1700001020, 10],
    [11, 'alice', null, 'hi bob', 1700001010, undefined],
    [10, 'bob', null, 'hello trio from bob', 1700001000, undefined],
  ]);
  const pair = await alice.request('get_messages', { conversation_id: 2 });
  assert.deepEqual(pair.messages.map(({ id, reply_id }) => [id, reply_id]), [[20, null], [16, null]], 'a reply into another conversation is not kept');
  const found = await alice.request('search_messages', { query: 'trio' });
  assert.deepEqual(found.messages.map(({ id, snippet }) => [id, snippet]), [[10, 'hello <mark>trio</mark> from bob']]);

  // Parley's own features on the adopted data: new ids follow the old ones, the owner manages, sync replays.
  const bob = await connect(server, tokenFrom(await logIn(server, 'bob', 'bob-secret-22')));
  const sent = await alice.request('send_message', { conversation_id: 1, content: 'first message on Parley', reply_id: 15 });
  assert.equal(sent.id, 31, 'message ids continue after the highest the seed used');
  assert.deepEqual(sent.reply_to?.content, 'replying to bob');
  const renamedRoom = await bob.request('update_conversation', { conversation_id: 1, name: 'trio on parley' });
  assert.equal(renamedRoom.name, 'trio on parley');
  const replay = await bob.request('sync', { since: 0 });
  assert.deepEqual(replay.events.map(({ type }) => type), ['send_message', 'update_conversation']);
  const newcomer = await person(server, 'newcomer');
  assert.equal((await newcomer.client.request('self')).username, newcomer.username);
  const clash = await http(server.http, 'POST', '/register', { body: { username: 'ALICE_4', password: 'long enough password', fullname: 'x' } });
  assert.deepEqual([clash.status, clash.body], [409, 'username already exists']);

  // A restart finds a Parley database: nothing is adopted twice.
  await server.stop();
  const again = await startServer(t, { DBPATH: dbPath }, dir);
  assert.ok(!again.logs.some((line) => String(line.msg).startsWith('adopt')));
  const carol = await connect(again, tokenFrom(await logIn(again, 'carol', 'carol pw 333')));
  assert.deepEqual((await carol.request('get_contacts')).contacts.map((c) => c.username), ['alice', 'dave smith']);
  assert.deepEqual(readdirSync(dir).filter((name) => name.includes('seed-backup')).length, 1);
});

test('an adoption that fails changes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-adopt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'chatapp.db');
  // A fullname of NULL (the seed's own schema forbids it; this copy does not) breaks Parley's NOT NULL mid-transaction.
  makeSeedDatabase(dbPath, seedSchema.replace('fullname TEXT NOT NULL', 'fullname TEXT'));
  const broken = new Database(dbPath);
  broken.prepare('UPDATE users SET fullname = NULL WHERE id = 6').run();
  broken.close();
  const before = rowsOf(dbPath);
  const { code, output } = await runServerExpectingExit({ DBPATH: dbPath, JWTSECRET: testSecret });
  assert.equal(code, 1);
  assert.match(output, /NOT NULL constraint failed: users\.fullname/);
  assert.deepEqual(rowsOf(dbPath), before);
  const after = new Database(dbPath, { readonly: true });
  assert.deepEqual([after.pragma('user_version', { simple: true }), after.pragma('journal_mode', { simple: true })], [0, 'delete']);
  after.close();
});

test('admin adopt shows its progress on a terminal and nothing when piped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-adopt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const piped = join(dir, 'piped.db');
  makeSeedDatabase(piped);
  const quiet = await runAdmin({ DBPATH: piped }, ['adopt']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '', 'no progress when stderr is not a terminal');
  assert.match(quiet.stdout, /\nadopting the seed backend's database: database .*piped\.db\n/);
  assert.match(quiet.stdout, /\nadopted the seed backend's database: users 6, contacts 3, conversations 3, members 7, messages 5, replies 1, skipped \{"contacts":0,"members":0,"messages":1,"replies":1\}, unusable_hashes 1, renamed 1, backup .*piped\.db\.seed-backup-/);
  const again = await runAdmin({ DBPATH: piped }, ['adopt']);
  assert.deepEqual(again, { code: 1, stdout: '', stderr: `parley admin: DBPATH=${piped} is not the seed backend's database: nothing to adopt\n` });

  if (!hasScript) {
    assert.ok(!process.env.CI, 'CI must have script (util-linux) for the terminal test');
    t.diagnostic('skipped the terminal half: install util-linux (script) to run it');
    return;
  }
  const shown = join(dir, 'shown.db');
  makeSeedDatabase(shown);
  const terminal = await runAdmin({ DBPATH: shown }, ['adopt'], { terminal: true });
  assert.equal(terminal.code, 0, terminal.stdout);
  for (const step of ['copying the seed database', 'adopting users', 'adopting messages', 'indexing messages for search']) {
    assert.match(terminal.stdout, new RegExp(`\\r\\x1b\\[2K${step}: 100% \\(.+ of .+\\)\\r?\\n`), step);
  }
  assert.match(terminal.stdout, /adopting users: 100% \(6 users of 6 users\)/);
  assert.ok(existsSync(shown) && readFileSync(shown).length > 0);
});
