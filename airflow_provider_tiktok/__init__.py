"""Apache Airflow provider for TikTok Ads: events upload, audience sync and ad-metric import."""

__version__ = "0.2.0"
