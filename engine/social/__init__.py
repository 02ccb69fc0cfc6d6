"""The social domain (issue 12 §1–§3): profiles and privacy, the follow graph, blocks."""
