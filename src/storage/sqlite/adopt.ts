// Adopting the seed backend's database: recognising its five tables, and rewriting them in place as
// Parley's, in one transaction, keeping every id (users, conversations, messages) and password hash.
import type { Db } from './db.ts';
import { migrate, raiseSequence, userVersion } from './db.ts';
import type { Progress } from '../../progress.ts';

/** The seed's tables and their columns, as its server created them (shared/protocol-compat.md). */
const seedTables: Record<string, readonly string[]> = {
  users: ['id', 'username', 'fullname', 'password', 'is_online', 'last_online', 'created_at'],
  contacts: ['user_id', 'contact_id'],
  conversations: ['id', 'name'],
  members: ['conversation_id', 'user_id'],
  messages: ['id', 'sender_id', 'conversation_id', 'reply_id', 'sent_at', 'content'],
};

/**
 * Adoption writes the tables of this schema version; the migrations after it then run as they do on
 * any Parley database of that version. It must stay 5 when later migrations are added.
 */
const adoptedVersion = 5;
const chunk = 50_000;

/** The tables in the file besides SQLite's own. */
export const tablesIn = (db: Db): string[] =>
  db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all();

/** True when the database is exactly the seed's: user_version 0 and its five tables with their columns. */
export function isSeedDatabase(db: Db): boolean {
  if (userVersion(db) !== 0) return false;
  const tables = tablesIn(db);
  if (tables.length !== Object.keys(seedTables).length) return false;
  return tables.every((table) => {
    const expected = seedTables[table];
    if (!expected) return false;
    const columns = db.prepare<[], string>(`SELECT name FROM pragma_table_info('${table}')`).pluck().all();
    return columns.length === expected.length && expected.every((column) => columns.includes(column));
  });
}

export type Adoption = {
  users: number;
  contacts: number;
  conversations: number;
  members: number;
  messages: number;
  replies: number;
  /** Accounts whose name differed only in case from an older account's, and the name each got. */
  renamed: { id: number; from: string; to: string }[];
  /** Accounts whose stored password is not an argon2 hash: they cannot log in until it is reset. */
  unusableHashes: number;
  /** Rows that point at users, conversations or messages that do not exist, left out (the backup copy keeps them). */
  skipped: { contacts: number; members: number; messages: number; replies: number };
};

/** ASCII case folding, as SQLite's NOCASE does: Parley's usernames are unique under it. */
const fold = (name: string) => name.replace(/[A-Z]/g, (letter) => letter.toLowerCase());

/**
 * The oldest account keeps a name; a later one whose name differs only in case becomes
 * `<name>_<id>` (or `<name>_<id>_2`, …, should that be taken), so nobody loses an account or its history.
 */
function resolveNames(users: readonly { id: number; username: string }[]): Map<number, string> {
  const taken = new Set<string>();
  const later: { id: number; username: string }[] = [];
  const names = new Map<number, string>();
  for (const user of users) {
    if (taken.has(fold(user.username))) later.push(user);
    else {
      taken.add(fold(user.username));
      names.set(user.id, user.username);
    }
  }
  for (const { id, username } of later) {
    let name = `${username}_${id}`;
    for (let n = 2; taken.has(fold(name)); n++) name = `${username}_${id}_${n}`;
    taken.add(fold(name));
    names.set(id, name);
  }
  return names;
}

export type Track = (step: string, unit: string) => Progress;

/**
 * Rewrites the seed's tables as Parley's in one exclusive transaction: nothing changes unless all of
 * it succeeds. Choices where the seed's data breaks Parley's rules are in docs/storage.md ("Adopting the
 * seed backend's database"). The caller keeps a backup copy first.
 */
export function adoptSeed(db: Db, now: number, track: Track): Adoption {
  const count = (sql: string) => db.prepare<[], number>(sql).pluck().get() ?? 0;
  // The seed's tables reference each other; its ids are checked below, and the result as a whole before COMMIT.
  db.pragma('foreign_keys = OFF');
  try {
    return db.transaction(() => {
      for (const table of Object.keys(seedTables)) db.exec(`ALTER TABLE "${table}" RENAME TO "seed_${table}"`);
      // The seed has no index for a conversation's messages; the owner and start of each need one.
      db.exec('CREATE INDEX seed_messages_by_conversation ON seed_messages (conversation_id, id)');
      migrate(db, { upTo: adoptedVersion });

      const seedUsers = db.prepare<[], { id: number; username: string; fullname: string; password: string; created_at: number; last_online: number }>(
        `SELECT id, username, fullname, password, coalesce(created_at, last_online, ${now}) AS created_at,
                coalesce(last_online, created_at, ${now}) AS last_online FROM seed_users ORDER BY id`,
      ).all();
      const names = resolveNames(seedUsers);
      const insertUser = db.prepare('INSERT INTO users (id, username, fullname, password_hash, created_at, last_online) VALUES (?, ?, ?, ?, ?, ?)');
      const progress = track('adopting users', 'users');
      seedUsers.forEach((user, index) => {
        insertUser.run(user.id, names.get(user.id), user.fullname, user.password, user.created_at, user.last_online);
        progress.update(index + 1, seedUsers.length);
      });
      progress.finish();
      const renamed = seedUsers.filter((user) => names.get(user.id) !== user.username).map((user) => ({ id: user.id, from: user.username, to: names.get(user.id)! }));

      // No creator is recorded: the owner is the member who sent the conversation's first message,
      // else its longest-registered member; it began with its first message, else when its youngest member registered.
      db.exec(`INSERT INTO conversations (id, name, kind, creator_id, created_at)
        SELECT c.id, c.name, 'group',
               coalesce((SELECT m.sender_id FROM seed_messages AS m
                           JOIN seed_members AS sm ON sm.conversation_id = m.conversation_id AND sm.user_id = m.sender_id
                           JOIN users ON users.id = m.sender_id
                          WHERE m.conversation_id = c.id ORDER BY m.id LIMIT 1),
                        (SELECT sm.user_id FROM seed_members AS sm JOIN users ON users.id = sm.user_id
                          WHERE sm.conversation_id = c.id ORDER BY users.created_at, users.id LIMIT 1)),
               coalesce((SELECT m.sent_at FROM seed_messages AS m WHERE m.conversation_id = c.id ORDER BY m.id LIMIT 1),
                        (SELECT max(users.created_at) FROM seed_members AS sm JOIN users ON users.id = sm.user_id WHERE sm.conversation_id = c.id),
                        ${now})
          FROM seed_conversations AS c ORDER BY c.id`);

      // A reply keeps its reply_id when the message it answers is in the same conversation, as the seed required.
      // The unary + keeps SQLite walking ids in order, not the conversation index (which sorts every remaining message per chunk).
      const insertMessages = db.prepare<[number]>(`INSERT INTO messages (id, conversation_id, sender_id, reply_id, content, sent_at)
        SELECT m.id, m.conversation_id, users.id, original.id, coalesce(m.content, ''), coalesce(m.sent_at, ${now})
          FROM seed_messages AS m
          LEFT JOIN users ON users.id = m.sender_id
          LEFT JOIN seed_messages AS original ON original.id = m.reply_id AND original.conversation_id = m.conversation_id
         WHERE m.id > ? AND +m.conversation_id IN (SELECT id FROM conversations)
         ORDER BY m.id LIMIT ${chunk}`);
      const newestMessage = db.prepare<[], number | null>('SELECT max(id) FROM messages').pluck();
      const seedMessages = count('SELECT count(*) FROM seed_messages');
      const messages = track('adopting messages', 'messages');
      let adoptedMessages = 0;
      for (let after = 0, changes = 1; changes > 0; after = newestMessage.get() ?? 0) {
        changes = insertMessages.run(after).changes;
        adoptedMessages += changes;
        messages.update(adoptedMessages, seedMessages);
      }
      messages.finish();

      // Members: the owner first, then in the seed's order. History from before adoption counts as
      // delivered and read (the seed had no receipts), so nobody starts with every old message unread.
      const hasRowid = (table: string) => db.prepare<[], number>(`SELECT wr FROM pragma_table_list WHERE name = '${table}'`).pluck().get() === 0;
      db.exec(`INSERT INTO members (conversation_id, user_id, position, joined_at, role, delivered_id, read_id)
        SELECT sm.conversation_id, sm.user_id,
               row_number() OVER (PARTITION BY sm.conversation_id ORDER BY sm.user_id = c.creator_id DESC${hasRowid('seed_members') ? ', sm.rowid' : ''}) - 1,
               c.created_at, CASE WHEN sm.user_id = c.creator_id THEN 'owner' ELSE 'member' END,
               coalesce(newest.id, 0), coalesce(newest.id, 0)
          FROM seed_members AS sm
          JOIN conversations AS c ON c.id = sm.conversation_id
          JOIN users ON users.id = sm.user_id
          LEFT JOIN (SELECT conversation_id, max(id) AS id FROM messages GROUP BY conversation_id) AS newest ON newest.conversation_id = sm.conversation_id`);
      // Each member sees the conversation's events from the start of Parley's log on.
      db.exec('INSERT INTO member_periods (conversation_id, user_id, from_seq) SELECT conversation_id, user_id, 0 FROM members');

      // Contacts are two-way in Parley: a direction the seed is missing is added, in the seed's order of adding.
      const contactOrder = hasRowid('seed_contacts') ? 'rowid' : 'user_id, contact_id';
      db.exec(`INSERT OR IGNORE INTO contacts (user_id, contact_id, added_at)
        SELECT pair.a, pair.b, max(one.created_at, other.created_at)
          FROM (SELECT user_id AS a, contact_id AS b, row_number() OVER (ORDER BY ${contactOrder}) AS n, 0 AS side FROM seed_contacts
                UNION ALL
                SELECT contact_id, user_id, row_number() OVER (ORDER BY ${contactOrder}), 1 FROM seed_contacts) AS pair
          JOIN users AS one ON one.id = pair.a
          JOIN users AS other ON other.id = pair.b
         WHERE pair.a <> pair.b
         ORDER BY pair.n, pair.side`);

      indexForSearch(db, track);

      const adoption: Adoption = {
        users: seedUsers.length,
        contacts: count('SELECT count(*) FROM contacts WHERE user_id < contact_id'),
        conversations: count('SELECT count(*) FROM conversations'),
        members: count('SELECT count(*) FROM members'),
        messages: adoptedMessages,
        replies: count('SELECT count(*) FROM messages WHERE reply_id IS NOT NULL'),
        renamed,
        unusableHashes: count("SELECT count(*) FROM users WHERE password_hash NOT LIKE '$argon2%'"),
        skipped: {
          contacts: count(`SELECT count(*) FROM seed_contacts WHERE user_id = contact_id
                              OR user_id NOT IN (SELECT id FROM users) OR contact_id NOT IN (SELECT id FROM users)`),
          members: count('SELECT count(*) FROM seed_members') - count('SELECT count(*) FROM members'),
          messages: seedMessages - adoptedMessages,
          replies: count('SELECT count(*) FROM seed_messages WHERE reply_id IS NOT NULL AND id IN (SELECT id FROM messages WHERE reply_id IS NULL)'),
        },
      };
      // Ids the seed used for rows left out are not handed out again either.
      for (const table of ['users', 'conversations', 'messages']) raiseSequence(db, table, count(`SELECT coalesce(max(id), 0) FROM seed_${table}`));
      for (const table of ['messages', 'members', 'contacts', 'conversations', 'users']) db.exec(`DROP TABLE seed_${table}`);
      migrate(db);
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length) throw new Error(`adoption left ${broken.length} rows pointing at nothing (first: ${JSON.stringify(broken[0])}); nothing was changed`);
      return adoption;
    }).exclusive();
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

/** Puts every adopted message in the full-text index, a chunk at a time so that progress can be shown. */
function indexForSearch(db: Db, track: Track): void {
  const total = db.prepare<[], number>('SELECT count(*) FROM messages').pluck().get() ?? 0;
  const index = db.prepare<[number, number]>('INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE id > ? AND id <= ?');
  const next = db.prepare<[number], { upto: number | null; rows: number }>(
    `SELECT max(id) AS upto, count(*) AS rows FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ${chunk})`,
  );
  const progress = track('indexing messages for search', 'messages');
  let done = 0;
  for (let after = 0; ; ) {
    const { upto, rows } = next.get(after)!;
    if (upto === null) break;
    index.run(after, upto);
    done += rows;
    after = upto;
    progress.update(done, total);
  }
  progress.finish();
  db.prepare('UPDATE search_index SET through = (SELECT coalesce(max(id), 0) FROM messages) WHERE id = 1').run();
}
