-- Why: staff review fraud flags in the dashboard (issue 15 §4). `reviewed_at`/`reviewed_by` say who
-- and when; the note says what they found (kept with the flag, and in the audit log's details).

ALTER TABLE fraud_flags ADD COLUMN review_note varchar(500);
