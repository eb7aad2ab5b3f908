"""``branchops-agent``: a small agent for servers with no exporter (see docs/agent.md).

It needs only psutil and httpx, never Django: it runs on the monitored server, collects
every ``interval_s`` and pushes batches to the centre's ``/api/v1/push/agent``.
"""
