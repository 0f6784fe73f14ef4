-- Periodic work shared by the nodes of a cluster (src/periodic.ts): for each job, the last period whose
-- round some node has claimed, counted in periods of the job's length since the epoch on the
-- database's clock. SQLite has no counterpart: a SQLite database belongs to one server.

CREATE TABLE periodic_rounds (
  name   text   PRIMARY KEY,
  period bigint NOT NULL
);
