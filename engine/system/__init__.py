"""Platform-wide switches that reach every socket (issue 15 §9): maintenance mode and system
announcements, pushed to every connected socket on every engine process."""
