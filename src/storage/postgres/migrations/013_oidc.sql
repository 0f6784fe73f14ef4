-- Single sign-on (OpenID Connect): which provider's account (its `sub`) is which Parley account; the
-- logins under way between the redirect to a provider and its answer (state, PKCE verifier, nonce), kept
-- here rather than in one node's memory so the answer may reach any node; and which sessions a provider
-- started, with the ID token that logging out of the provider too sends back to it.
CREATE TABLE oidc_links (
  provider   text    NOT NULL,
  subject    text    NOT NULL,
  user_id    bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at bigint  NOT NULL,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX oidc_links_by_user ON oidc_links (user_id);

CREATE TABLE oidc_logins (
  state         text    PRIMARY KEY,
  provider      text    NOT NULL,
  code_verifier text    NOT NULL,
  nonce         text    NOT NULL,
  return_to     text    NOT NULL,
  expires_at    bigint  NOT NULL
);
CREATE INDEX oidc_logins_by_expiry ON oidc_logins (expires_at);

CREATE TABLE oidc_sessions (
  session_id text PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
  provider   text NOT NULL,
  id_token   text NOT NULL
);

-- Linking a first single sign-on to the account with the same verified email.
CREATE INDEX users_by_email ON users (lower(email)) WHERE email_verified = 1;
