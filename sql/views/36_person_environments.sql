-- Where each person of a month was counted (docs/semantics.md "Persons"): the (app,
-- production environment, user provider, tenant) each person has a counted event in;
-- `named-users`, `environments` and `providers` count persons there. Under
-- `dedup.scope = portfolio` an account spans its app's environments, so its person is found
-- through its counted events rather than its latest one.
--
-- An account's counted events are its named candidates (10_candidate_events.sql) when the
-- account counts, which is when it is in `account_persons`: so the join reads the candidates,
-- not `account_events`, which would find the same rows by joining every event to its
-- account's close first.
CREATE VIEW person_environments AS
SELECT DISTINCT c.month, c.app_id, c.environment_id, c.user_provider, c.tenant, p.person_key
FROM account_candidates c
JOIN account_persons p
  ON p.month = c.month AND p.app_id = c.app_id AND p.scope_environment = c.scope_environment
 AND p.user_provider = c.user_provider AND p.tenant = c.tenant
 AND p.identifier_key = c.identifier_key
WHERE {{counting_basis}} = 'logins' OR NOT c.anonymous;
