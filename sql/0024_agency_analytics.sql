-- Why: issue 13 §4, agency analytics and leaderboards (docs/agency.md "Analytics and leaderboards").
-- Indexes only: every figure is read from the tables that already hold it (membership spans in
-- `agency_members`, income in `agency_income_events`), never a counter of its own.

-- Members per day reads an agency's memberships that overlap a range, ended ones included (sql/0018
-- indexes only the active rows per agency).
CREATE INDEX agency_members_history_idx ON agency_members (agency_id, joined_at);

-- The all-agencies leaderboard sums one business month of income across every agency: a range on
-- `happened_at` alone, read from the index (the per-agency index leads with agency_id).
CREATE INDEX agency_income_events_time_idx ON agency_income_events (happened_at) INCLUDE (agency_id, coins);
