"""Agencies (issue 13): applications, review, the agency profile, membership."""
