"""Feature flags with a percentage rollout, and the platform's maintenance state (issue 15 §9): read
by every engine process through a short-lived cache (`Services.flags`), changed by staff from the
dashboard's System page."""
