"""Reports and the moderation queue (issue 12 §4): users report, staff review and act, users appeal."""
