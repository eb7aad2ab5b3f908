"""The alert pipeline: signals in; dedup, flapping, silences, correlation; alerts and
notifications out. Runs in the engine (one thread), never in a web request."""
