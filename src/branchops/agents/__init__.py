"""Servers that run the BranchOps agent: who they are, when they were last heard, and the
receipts of the batches they pushed (so a replayed batch is never stored twice)."""
