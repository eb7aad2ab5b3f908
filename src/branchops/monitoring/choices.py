"""Choices of the monitoring app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CheckKind(models.TextChoices):
    ICMP = "icmp", _("ICMP echo (loss, latency, jitter)")
    TCP = "tcp", _("TCP connect")
    HTTP = "http", _("HTTP(S) request")
    DNS = "dns", _("DNS resolution")
    NTP = "ntp", _("NTP clock offset")
    SNMP_SYSTEM = "snmp_system", _("SNMP system: uptime, CPU, memory, storage")
    SNMP_INTERFACES = "snmp_interfaces", _("SNMP interfaces: status, traffic, errors")
    SNMP_PROFILE = "snmp_profile", _("SNMP vendor profile: VPN tunnels, sessions, ...")
    VPN_TUNNEL = "vpn_tunnel", _("VPN tunnel state and latency")
    PROMETHEUS = "prometheus", _("Prometheus exporter scrape")
    AGENT = "agent", _("BranchOps agent (pushed)")
    PUSH = "push", _("Pushed metrics")


# Kinds whose data arrives by itself; the scheduler only watches them for silence.
PASSIVE_KINDS = frozenset({CheckKind.AGENT, CheckKind.PUSH})


class CheckState(models.TextChoices):
    UP = "up", _("Up")
    DEGRADED = "degraded", _("Degraded")
    DOWN = "down", _("Down")
    UNKNOWN = "unknown", _("Unknown")
    PENDING = "pending", _("Not run yet")


class TargetKind(models.TextChoices):
    DEVICE = "device", _("Device")
    LINK = "link", _("Link")
    SITE = "site", _("Site")
    SYSTEM = "system", _("Information system")


class SnmpVersion(models.TextChoices):
    V2C = "2c", _("SNMP v2c")
    V3 = "3", _("SNMP v3")


class AuthProtocol(models.TextChoices):
    NONE = "", _("None")
    MD5 = "md5", "HMAC-MD5"
    SHA = "sha", "HMAC-SHA-1"
    SHA224 = "sha224", "HMAC-SHA-224"
    SHA256 = "sha256", "HMAC-SHA-256"
    SHA384 = "sha384", "HMAC-SHA-384"
    SHA512 = "sha512", "HMAC-SHA-512"


class PrivProtocol(models.TextChoices):
    NONE = "", _("None")
    DES = "des", "DES"
    AES = "aes", "AES-128"
    AES192 = "aes192", "AES-192"
    AES256 = "aes256", "AES-256"
