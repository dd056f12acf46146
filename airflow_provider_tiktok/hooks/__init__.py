"""Hooks of the TikTok Ads provider."""
