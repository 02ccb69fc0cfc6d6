"""The catalog staff edit from the dashboard (issue 15 §7): gifts, mall items, recharge packages."""
