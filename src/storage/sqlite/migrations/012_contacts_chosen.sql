-- Whose choice a contact is (review 25, M1 again): add_contact writes both directions, so anyone could make
-- themselves a contact of anyone and then add them past `who_may_add = 'contacts'`. `chosen` is 1 on the
-- row of the person who added (or added back), 0 on the other side's row; only chosen contacts may add
-- someone whose who_may_add is `contacts`. Contacts made before this migration count as chosen both ways.
ALTER TABLE contacts ADD COLUMN chosen INTEGER NOT NULL DEFAULT 1;
