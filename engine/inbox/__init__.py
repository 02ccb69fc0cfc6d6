"""Direct messages and official messages (issue 12 §6): the inbox."""
