"""Events upload: building Events API events from records, batching, progress and the upload run."""
