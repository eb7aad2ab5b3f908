"""A pure-asyncio SNMP library: BER codec, SNMPv3 USM, a many-target client, a lab agent.

ORM-free and Django-free, so the engine's collectors and the lab can both use it. See
docs/snmp.md for the design, limits and measured performance.

Typical use::

    async with SnmpClient(timeout=1.0, retries=1) as client:
        target = Target("127.0.0.1", 161, Community("public"))
        varbinds = await client.get(target, ["1.3.6.1.2.1.1.3.0"])
"""

from branchops.snmp.agent import AgentServer, AgentStats, SimulatedAgent, lab_engine_id
from branchops.snmp.ber import CommunityMessage, Pdu, TrapV1, decode_community_message
from branchops.snmp.client import ClientStats, Community, SnmpClient, Target
from branchops.snmp.errors import (
    ErrorStatus,
    SnmpAuthError,
    SnmpDecodeError,
    SnmpError,
    SnmpErrorStatus,
    SnmpProtocolError,
    SnmpReportError,
    SnmpTimeout,
)
from branchops.snmp.mib import MibView
from branchops.snmp.types import Oid, PduType, SnmpType, Value, VarBind, format_oid, parse_oid
from branchops.snmp.usm import AuthProtocol, PrivProtocol, SecurityLevel, UsmUser

__all__ = [
    "AgentServer",
    "AgentStats",
    "AuthProtocol",
    "ClientStats",
    "Community",
    "CommunityMessage",
    "ErrorStatus",
    "MibView",
    "Oid",
    "Pdu",
    "PduType",
    "PrivProtocol",
    "SecurityLevel",
    "SimulatedAgent",
    "SnmpAuthError",
    "SnmpClient",
    "SnmpDecodeError",
    "SnmpError",
    "SnmpErrorStatus",
    "SnmpProtocolError",
    "SnmpReportError",
    "SnmpTimeout",
    "SnmpType",
    "Target",
    "TrapV1",
    "UsmUser",
    "Value",
    "VarBind",
    "decode_community_message",
    "format_oid",
    "lab_engine_id",
    "parse_oid",
]
