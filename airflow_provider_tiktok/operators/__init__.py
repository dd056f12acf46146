"""Operators of the TikTok Ads provider."""
