"""Triggers of the TikTok Ads provider."""
