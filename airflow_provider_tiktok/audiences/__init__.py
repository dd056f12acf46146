"""Cohort sync: hashing the cohort, planning calls within the daily limit, the ledger, snapshots and the sync."""
