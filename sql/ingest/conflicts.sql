-- The versions of an event id that do not count (`contested.sql`): kept, hashed like every
-- stored event, in the `conflicts` table, so the hygiene report can count them and an analyst
-- can see what a source sent twice.
SELECT {{stored_columns}} FROM contested WHERE place > 1
