"""SNMP notifications, whatever version carried them, and the events they mean.

v1 Trap-PDUs are translated to the SNMPv2 form first (RFC 3584 section 3.1), so the
standard traps, the vendor catalogue in the parse rule files and the fallback all see one
shape: a snmpTrapOID and the variable bindings after sysUpTime.0 and snmpTrapOID.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from branchops.alerts.receivers.events import (
    INFO,
    SOURCE_TRAP,
    InboundEvent,
    bounded,
    clean_labels,
    title_for,
)
from branchops.alerts.receivers.rules import (
    DEFAULTS,
    CompiledTrapRule,
    RuleBook,
    family_of,
    render_key,
    subject_of,
)
from branchops.alerts.receivers.syslog_parser import decode
from branchops.snmp import Oid, Pdu, SnmpDecodeError, TrapV1, VarBind, format_oid

SYS_UPTIME: Final = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID: Final = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
SNMP_TRAPS: Final = (1, 3, 6, 1, 6, 3, 1, 1, 5)  # snmpTraps: coldStart is .1
IF_INDEX: Final = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)
IF_DESCR: Final = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)
IF_NAME: Final = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_TABLE_ENTRY: Final = (1, 3, 6, 1, 2, 1, 2, 2, 1)
STANDARD: Final[dict[int, str]] = {
    1: "cold-start",
    2: "warm-start",
    3: "link-down",
    4: "link-up",
    5: "auth-failure",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """A trap or inform, version-independent."""

    version: str  # "v1", "v2c" or "v3"
    trap_oid: Oid
    varbinds: tuple[VarBind, ...]  # after sysUpTime.0 and snmpTrapOID.0
    uptime: int | None = None
    agent_address: str = ""  # v1 agent-addr
    security_name: str = ""  # v3 user


def from_trap_v1(trap: TrapV1) -> Notification:
    """RFC 3584 3.1: generic traps map under snmpTraps, specific ones to enterprise.0.N."""
    oid: Oid
    if 0 <= trap.generic_trap < 6:
        oid = (*SNMP_TRAPS, trap.generic_trap + 1)
    elif trap.generic_trap == 6:
        oid = (*trap.enterprise, 0, trap.specific_trap)
    else:
        raise SnmpDecodeError(f"generic-trap {trap.generic_trap} is not defined")
    return Notification("v1", oid, tuple(trap.varbinds), trap.timestamp, trap.agent_address)


def from_pdu(pdu: Pdu, version: str, security_name: str = "") -> Notification:
    """An SNMPv2-Trap or InformRequest PDU; its second binding must be snmpTrapOID.0."""
    varbinds = pdu.varbinds
    if len(varbinds) < 2 or varbinds[1].oid != SNMP_TRAP_OID:
        raise SnmpDecodeError("notification without snmpTrapOID.0 as its second binding")
    trap_oid = varbinds[1].value
    if not isinstance(trap_oid, tuple):
        raise SnmpDecodeError("snmpTrapOID.0 is not an OBJECT IDENTIFIER")
    uptime = varbinds[0].value if varbinds[0].oid == SYS_UPTIME else None
    return Notification(
        version,
        trap_oid,
        tuple(varbinds[2:]),
        uptime if isinstance(uptime, int) else None,
        security_name=security_name,
    )


def render_value(varbind: VarBind) -> str:
    value = varbind.value
    if isinstance(value, bytes):
        text = decode(value)
        printable = text.isprintable() and "\ufffd" not in text
        return text if printable else "0x" + value.hex()
    if isinstance(value, tuple):
        return format_oid(value)
    return "null" if value is None else str(value)


def render(notification: Notification) -> str:
    """The trap OID and its bindings as one bounded line, for the event's message."""
    parts = [f"{format_oid(vb.oid)} = {render_value(vb)}" for vb in notification.varbinds]
    return bounded(f"{format_oid(notification.trap_oid)}: " + "; ".join(parts))


def to_event(notification: Notification, sender: str, now: float, rules: RuleBook) -> InboundEvent:
    """Standard traps, then the vendor catalogue, then a generic "trap" event."""
    trap_oid = format_oid(notification.trap_oid)
    labels = {
        "trap_oid": trap_oid,
        "snmp_version": notification.version,
        "agent_address": notification.agent_address,
        "snmp_user": notification.security_name,
    }
    oid = notification.trap_oid
    rule = rules.traps.get(trap_oid)
    if oid[:-1] == SNMP_TRAPS and oid[-1] in STANDARD:
        name = STANDARD[oid[-1]]
        (status, severity), template = DEFAULTS[name], ""
        labels.update(interface_labels(notification.varbinds))
    elif rule is not None:
        name, status, severity = rule.outcome.name, rule.outcome.status, rule.outcome.severity
        template = rule.outcome.key
        labels.update(catalogue_labels(rule, notification.varbinds), vendor=rule.outcome.vendor)
    else:
        name, status, severity, template = "trap", INFO, None, "trap:{trap_oid}"
    labels = clean_labels(labels)
    if name == "trap":
        subject = trap_oid
    else:
        subject = labels.get("interface") or subject_of(labels) or labels.get("if_index", "")
    if not template and "if_index" in labels:
        template = "if:{if_index}"  # linkDown and linkUp pair by interface
    return InboundEvent(
        SOURCE_TRAP, sender, now, name, status, severity, title_for(name, subject),
        render(notification), render_key(template, labels, family_of(name)), labels,
    )  # fmt: skip


def interface_labels(varbinds: Sequence[VarBind]) -> dict[str, str]:
    """ifIndex and the interface's name (ifName, else ifDescr) from linkDown/linkUp."""
    labels: dict[str, str] = {}
    for vb in varbinds:
        column = vb.oid[:-1]
        if column == IF_INDEX:
            labels["if_index"] = render_value(vb)
        elif column in (IF_NAME, IF_DESCR) and render_value(vb).strip():
            # ifName is the short name operators use; ifDescr only when it is missing
            labels["interface" if column == IF_NAME else "if_descr"] = render_value(vb)
        if column[: len(IF_TABLE_ENTRY)] in (IF_TABLE_ENTRY, IF_NAME[:-1]):
            labels.setdefault("if_index", str(vb.oid[-1]))  # the instance is the ifIndex
    if "interface" not in labels and "if_descr" in labels:
        labels["interface"] = labels["if_descr"]
    return labels


def catalogue_labels(rule: CompiledTrapRule, varbinds: Sequence[VarBind]) -> dict[str, str]:
    """Labels a vendor trap rule takes by position ("#3") or by binding name prefix."""
    labels: dict[str, str] = {}
    for label, where in rule.labels.items():
        vb = _binding(where, varbinds)
        if vb is not None:
            labels[label] = render_value(vb)
    return labels


def _binding(where: str, varbinds: Sequence[VarBind]) -> VarBind | None:
    if where.startswith("#"):
        index = int(where[1:]) - 1
        return varbinds[index] if index < len(varbinds) else None
    prefix = tuple(int(arc) for arc in where.lstrip(".").split("."))
    return next((vb for vb in varbinds if vb.oid[: len(prefix)] == prefix), None)
