"""GDPR (issue 12 §8): consents, data exports, account deletion."""
