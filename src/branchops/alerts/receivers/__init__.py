"""Receivers for what devices push: syslog (UDP/TCP) and SNMP traps and informs.

Pure asyncio, no ORM: the engine process starts them with a callback that receives one
:class:`InboundEvent` per accepted message. See docs/syslog-and-traps.md.
"""
