"""The collection engine: scheduler, ingest and the process that runs them (branchops engine)."""
