-- The apps each person of a month used, once per (person, app) (docs/semantics.md "Persons");
-- the waterfall and `users` read it.
CREATE VIEW person_apps AS
SELECT DISTINCT month, person_key, app_id
FROM account_persons;
