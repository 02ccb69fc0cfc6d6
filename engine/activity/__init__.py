"""Activity and statistics (issue 12 §7): what a user did, logged off the hot path, and its sums."""
