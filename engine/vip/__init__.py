"""VIP tiers VIP1–VIP6 and FLSVIP: purchase, renewal, upgrade, gifting, expiry and the privileges the
other domains enforce (issue 14 §4; rules in docs/vip.md)."""
