-- Two-factor login (TOTP, RFC 6238): a row per account that has begun setting it up. `secret` is sealed
-- with a key derived from the JWT secret (src/auth/second-factor.ts), so the database alone does not give
-- it away. `enabled_at` is NULL until a first code confirms the set-up. `last_step` is the newest 30-second
-- time step whose code was accepted: a code of that step or an older one is refused, on every node, since
-- the check and the update are one statement.
CREATE TABLE two_factor (
  user_id    bigint  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret     text    NOT NULL,
  enabled_at bigint,
  last_step  bigint  NOT NULL DEFAULT 0
);

-- Recovery codes, each usable once in place of a TOTP code: keyed hashes (HMAC with a key derived from
-- the JWT secret); using one deletes it.
CREATE TABLE recovery_codes (
  user_id   bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash text    NOT NULL,
  PRIMARY KEY (user_id, code_hash)
);
