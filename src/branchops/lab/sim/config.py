"""The lab's settings: ports and seed, from BRANCHOPS_LAB_* variables or given in code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from branchops.envconfig import env_bool, env_int, env_path, env_str
from branchops.lab.sim.icmp import DEFAULT_TABLE

DEFAULT_CONTROL_PORT = 8199
DEFAULT_NODE_EXPORTER_PORT = 9100
DEFAULT_TLS_PORT = 443
DEFAULT_HTTPS_PORT = 8443
DEFAULT_NTP_PORT = 1123  # 123 needs root; the engine's NTP checks name this port in the demo
DEFAULT_SEED = 2026


def _port(name: str, default: int) -> int | None:
    """A port setting; 0 picks a free port, -1 turns the service off."""
    value = env_int(name, default, minimum=-1, maximum=65535)
    return None if value == -1 else value


@dataclass(frozen=True)
class LabConfig:
    """Where the lab listens. A port of None leaves that service off; 0 takes a free one.

    The SNMP port is not here by default: the lab answers on the port of the SNMP credential
    the engine polls with (``snmp_port`` overrides it, for tests).
    """

    seed: int = DEFAULT_SEED
    snmp_port: int | None = None
    node_exporter_port: int | None = DEFAULT_NODE_EXPORTER_PORT
    tls_port: int | None = DEFAULT_TLS_PORT
    https_port: int | None = DEFAULT_HTTPS_PORT
    ntp_port: int | None = DEFAULT_NTP_PORT
    control_port: int | None = DEFAULT_CONTROL_PORT
    nft: bool = True
    nft_table: str = DEFAULT_TABLE
    home: Path | None = None  # control.json goes to home/lab/; None writes none

    @classmethod
    def from_env(cls) -> LabConfig:
        return cls(
            seed=env_int("BRANCHOPS_LAB_SEED", DEFAULT_SEED),
            node_exporter_port=_port(
                "BRANCHOPS_LAB_NODE_EXPORTER_PORT", DEFAULT_NODE_EXPORTER_PORT
            ),
            tls_port=_port("BRANCHOPS_LAB_TLS_PORT", DEFAULT_TLS_PORT),
            https_port=_port("BRANCHOPS_LAB_HTTPS_PORT", DEFAULT_HTTPS_PORT),
            ntp_port=_port("BRANCHOPS_LAB_NTP_PORT", DEFAULT_NTP_PORT),
            control_port=_port("BRANCHOPS_LAB_CONTROL_PORT", DEFAULT_CONTROL_PORT),
            nft=env_bool("BRANCHOPS_LAB_NFT", True),
            nft_table=env_str("BRANCHOPS_LAB_NFT_TABLE", DEFAULT_TABLE),
            home=home(),
        )


def home() -> Path:
    """BRANCHOPS_HOME, read the way the settings read it (no Django needed)."""
    return env_path("BRANCHOPS_HOME", Path.cwd() / "var")


def control_file(base: Path | None = None) -> Path:
    return (base or home()) / "lab" / "control.json"
