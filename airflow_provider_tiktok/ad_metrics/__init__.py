"""Daily ad-metric import: report windows and records, the advertiser profile, the import run and its sinks."""
