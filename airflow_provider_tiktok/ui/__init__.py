"""The TikTok Ads page in the Airflow UI: audience quota, ad-metrics coverage and event uploads at a glance.

Pure functions turn what Airflow and the provider already keep (asset events, task summaries, the audience
ledgers, the metric partitions, the rejects files) into the page's rows and drawings; ``sources`` reads
them inside the API server, ``app`` serves the page, ``plugin`` registers it. No TikTok call, no PII.
"""
