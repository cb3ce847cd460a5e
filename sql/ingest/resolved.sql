-- What a month's staged rows add to the warehouse, once `contested.sql` has ranked the
-- versions of their ids (held as `contested`): the versions that count and that only staged
-- rows hold (a version also stored or written directly is there already), and the staged
-- rows without an event id, which are all events.
SELECT {{stored_columns}} FROM contested WHERE place = 1 AND origin = 2
UNION ALL
SELECT {{stored_columns}} FROM staged WHERE event_id IS NULL
