"""The SNMP collectors' building blocks, kept apart so that each stays small and testable.

- :mod:`.access`: the shared client, targets from a check's credential, error translation
- :mod:`.reading`: GET and multi-column GETBULK walks, value conversion
- :mod:`.memory`: what a collector remembers between polls (uptime, counters), rates
- :mod:`.system`, :mod:`.interfaces`, :mod:`.profile`: what each check kind reads
- :mod:`.hints`: the ``simulate:`` vocabulary of device profiles (shared with the lab)
"""
