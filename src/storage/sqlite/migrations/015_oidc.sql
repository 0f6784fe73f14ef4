-- Single sign-on (OpenID Connect): which provider's account (its `sub`) is which Parley account; the
-- logins under way between the redirect to a provider and its answer (state, PKCE verifier, nonce), kept
-- here rather than in one node's memory so the answer may reach any node; and which sessions a provider
-- started, with the ID token that logging out of the provider too sends back to it.
CREATE TABLE oidc_links (
  provider   TEXT    NOT NULL,
  subject    TEXT    NOT NULL,
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX oidc_links_by_user ON oidc_links (user_id);

CREATE TABLE oidc_logins (
  state         TEXT    PRIMARY KEY,
  provider      TEXT    NOT NULL,
  code_verifier TEXT    NOT NULL,
  nonce         TEXT    NOT NULL,
  return_to     TEXT    NOT NULL,
  expires_at    INTEGER NOT NULL
);
CREATE INDEX oidc_logins_by_expiry ON oidc_logins (expires_at);

CREATE TABLE oidc_sessions (
  session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
  provider   TEXT NOT NULL,
  id_token   TEXT NOT NULL
);

-- Linking a first single sign-on to the account with the same verified email.
CREATE INDEX users_by_email ON users (lower(email)) WHERE email_verified = 1;
