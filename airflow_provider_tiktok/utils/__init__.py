"""Utils of the TikTok Ads provider."""
