"""Stored notifications (issue 12 §5): what happened to a user while they may have been away."""
