"""BranchOps: one operations platform for hundreds of branches and a few data centres."""

__version__ = "0.1.0"
