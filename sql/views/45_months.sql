-- The months with data (docs/semantics.md "Counted events": a month has data when it holds
-- any stored event, counted or not), within the session's scope. Reports and the
-- subscriptions are per month of this list.
CREATE VIEW months AS
SELECT DISTINCT month FROM events WHERE {{month_scope}};
