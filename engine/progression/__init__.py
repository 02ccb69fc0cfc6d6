"""Progression: wealth/charm/room levels, the reward ledger, badges, rankings, campaigns and recognition
(issue 14; rules and defaults in docs/progression.md)."""
