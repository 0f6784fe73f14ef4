-- Whose choice a contact is, as SQLite's migration 012: 1 on the row of the person who added (or added
-- back), 0 on the other side's; contacts made before count as chosen both ways.
ALTER TABLE contacts ADD COLUMN chosen integer NOT NULL DEFAULT 1;
