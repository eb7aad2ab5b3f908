"""SNMP library benchmark: the BER codec alone, then a full poll of simulated agents.

    branchops bench snmp_codec [--agents 1000] [--rounds 5] [--v3] [--agent-mode shared]

1. Codec: encode + decode of a 20-varbind Response (v2c, and v3 authPriv SHA/AES) per second.
2. Poll: N simulated agents (branchops.snmp.agent, in a child process so that each side's
   CPU is measured apart) polled by branchops.snmp.client over loopback, 20 OIDs per agent
   in one GET, ``--rounds`` times. Reports polls/s and CPU seconds per 1,000 OIDs for the
   client and for the agent process (resource.getrusage, user + system).
3. Reference (``--netsnmp N``): net-snmp's snmpget, one process per agent, against the same
   agents; its CPU per OID includes process start-up, as a scheduler running it would pay.

Everything stays on 127.0.0.0/8. Figures are printed; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from branchops.snmp import (
    AgentServer,
    AuthProtocol,
    Community,
    MibView,
    PrivProtocol,
    SimulatedAgent,
    SnmpClient,
    SnmpType,
    Target,
    UsmUser,
    Value,
    parse_oid,
)
from branchops.snmp.ber import (
    decode_community_message,
    encode_community_message,
    encode_pdu,
    encode_varbind,
)
from branchops.snmp.types import PduType
from branchops.snmp.usm import localized, seal, unseal
from branchops.snmp.v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    decode_scoped_pdu,
    decode_v3_message,
    encode_scoped_pdu,
)

USER = UsmUser("bench", AuthProtocol.SHA, "benchauth1", PrivProtocol.AES, "benchpriv1")
IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"


def polled_oids() -> list[str]:
    """The 20 OIDs of a typical firewall poll: uptime, then 4 interfaces x 5 objects (less
    one, to make 20): status, octets in/out (32 and 64 bit), errors."""
    oids = ["1.3.6.1.2.1.1.3.0"]
    for index in range(1, 5):
        oids += [
            f"{IF}.8.{index}",
            f"{IF}.10.{index}",
            f"{IF}.16.{index}",
            f"{IFX}.6.{index}",
            f"{IF}.14.{index}",
        ]
    return oids[:20]


def device_view(seed: int) -> MibView:
    """The polled objects plus a system group and descriptions; octet counters move."""
    started = time.monotonic()

    def moving(rate: int) -> Callable[[], int]:
        return lambda: int((time.monotonic() - started) * rate) & 0xFFFFFFFF

    objects: dict[str, tuple[SnmpType, Any]] = {
        "1.3.6.1.2.1.1.1.0": (SnmpType.OCTET_STRING, b"BranchOps lab firewall"),
        "1.3.6.1.2.1.1.3.0": (SnmpType.TIMETICKS, moving(100)),
        "1.3.6.1.2.1.1.5.0": (SnmpType.OCTET_STRING, f"fw{seed}".encode()),
    }
    for index in range(1, 9):
        objects[f"{IF}.2.{index}"] = (SnmpType.OCTET_STRING, f"eth{index}".encode())
        objects[f"{IF}.8.{index}"] = (SnmpType.INTEGER, 1)
        objects[f"{IF}.10.{index}"] = (SnmpType.COUNTER32, moving(1_000_000 * index))
        objects[f"{IF}.16.{index}"] = (SnmpType.COUNTER32, moving(700_000 * index))
        objects[f"{IF}.14.{index}"] = (SnmpType.COUNTER32, seed % 7)
        objects[f"{IFX}.6.{index}"] = (SnmpType.COUNTER64, 2**40 + seed * index)
    return MibView(objects)


def agent_address(number: int) -> str:
    return f"127.1.{number // 250}.{number % 250 + 1}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# ---- 1. codec ----------------------------------------------------------------------------------


def sample_varbinds() -> bytes:
    cycle: list[tuple[SnmpType, Value]] = [
        (SnmpType.COUNTER32, 3_000_000_000),
        (SnmpType.COUNTER64, 2**50),
        (SnmpType.INTEGER, 1),
        (SnmpType.OCTET_STRING, b"GigabitEthernet0/1"),
    ]
    kinds = [(SnmpType.TIMETICKS, 123_456_789), *(cycle[i % 4] for i in range(19))]
    return b"".join(
        encode_varbind(parse_oid(oid), kind, value)
        for oid, (kind, value) in zip(polled_oids(), kinds, strict=True)
    )


def time_loop(function: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``function`` over about ``seconds``."""
    count, batch = 0, 200
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(batch):
            function()
        count += batch
    return count / elapsed


def bench_codec(seconds: float) -> dict[str, float]:
    varbinds = sample_varbinds()
    oids = [parse_oid(oid) for oid in polled_oids()]
    values = [(SnmpType.COUNTER32, 3_000_000_000)] * 20

    def encode() -> bytes:
        body = b"".join(
            [
                encode_varbind(oid, kind, value)
                for oid, (kind, value) in zip(oids, values, strict=True)
            ]
        )
        return encode_community_message(1, b"public", encode_pdu(PduType.RESPONSE, 7, 0, 0, body))

    packet = encode_community_message(1, b"public", encode_pdu(PduType.RESPONSE, 7, 0, 0, varbinds))

    def decode() -> object:
        return decode_community_message(packet)

    def both() -> object:
        return decode_community_message(encode())

    keys = localized(USER, b"\x80\x00\x00\x00\x04bench-engine")
    scoped = encode_scoped_pdu(
        b"\x80\x00\x00\x00\x04bench-engine", b"", encode_pdu(PduType.RESPONSE, 7, 0, 0, varbinds)
    )

    def v3_both() -> object:
        data = seal(
            msg_id=7,
            max_size=65507,
            flags=FLAG_AUTH | FLAG_PRIV,
            user_name=b"bench",
            keys=keys,
            engine_id=b"\x80\x00\x00\x00\x04bench-engine",
            boots=1,
            engine_time=100,
            scoped_pdu=scoped,
        )
        message = decode_v3_message(data)
        return decode_scoped_pdu(unseal(message, data, keys))

    return {
        "encode_20vb_per_s": time_loop(encode, seconds),
        "decode_20vb_per_s": time_loop(decode, seconds),
        "encode_decode_20vb_per_s": time_loop(both, seconds),
        "v3_authpriv_seal_unseal_decode_20vb_per_s": time_loop(v3_both, seconds),
    }


# ---- 2. the agent process --------------------------------------------------------------------


async def serve_agents(count: int, mode: str) -> None:
    """Child process: start ``count`` agents, print the port, then answer "cpu" lines with
    this process's CPU seconds until stdin closes."""
    server = AgentServer(0 if mode == "shared" else free_port(), mode=mode)  # type: ignore[arg-type]
    await server.start()
    started = time.perf_counter()
    for number in range(count):
        agent = SimulatedAgent(agent_address(number), device_view(number), users=[USER])
        await server.add(agent)
    print(f"ready {server.port} {time.perf_counter() - started:.2f}", flush=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_line() -> None:
        line = sys.stdin.readline()
        if line:
            print(f"{cpu_seconds():.6f}", flush=True)
        elif not done.done():
            loop.remove_reader(sys.stdin.fileno())
            done.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_line)
    await done
    server.close()


class AgentProcess:
    def __init__(self, count: int, mode: str) -> None:
        self.process = subprocess.Popen(  # this very script, in agent mode
            [
                sys.executable,
                os.path.abspath(__file__),
                "--serve",
                str(count),
                "--agent-mode",
                mode,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        _, port, startup = self.process.stdout.readline().split()
        self.port = int(port)
        self.startup_s = float(startup)

    def cpu(self) -> float:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("cpu\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


async def poll(port: int, count: int, rounds: int, v3: bool) -> dict[str, float]:
    oids = polled_oids()
    credentials = USER if v3 else Community("public")
    targets = [Target(agent_address(n), port, credentials) for n in range(count)]
    async with SnmpClient(timeout=5, retries=1) as client:
        await asyncio.gather(*(client.get(t, oids) for t in targets))  # warm-up, v3 discovery
        cpu_before, wall_before = cpu_seconds(), time.perf_counter()
        for _ in range(rounds):
            answers = await asyncio.gather(*(client.get(t, oids) for t in targets))
            assert all(len(a) == len(oids) for a in answers)
        wall = time.perf_counter() - wall_before
        cpu = cpu_seconds() - cpu_before
        lost = client.stats.retries
    polled = count * rounds
    return {
        "wall_s": wall,
        "client_cpu_s": cpu,
        "polls": polled,
        "oids": polled * len(oids),
        "retries": lost,
    }


def bench_poll(count: int, rounds: int, v3: bool, mode: str) -> dict[str, float]:
    agents = AgentProcess(count, mode)
    try:
        agent_before = agents.cpu()
        result = asyncio.run(poll(agents.port, count, rounds, v3))
        agent_cpu = agents.cpu() - agent_before
    finally:
        agents.stop()
    thousands = result["oids"] / 1000
    return {
        **result,
        "agent_startup_s": agents.startup_s,
        "agent_cpu_s": agent_cpu,
        "polls_per_s": result["polls"] / result["wall_s"],
        "oids_per_s": result["oids"] / result["wall_s"],
        "client_cpu_s_per_1000_oids": result["client_cpu_s"] / thousands,
        "agent_cpu_s_per_1000_oids": agent_cpu / thousands,
    }


def netsnmp_credentials(v3: bool) -> list[str]:
    if not v3:
        return ["-v2c", "-c", "public"]
    return ["-v3", "-l", "authPriv", "-u", USER.name, "-a", "SHA", "-A", USER.auth_password,
            "-x", "AES", "-X", USER.priv_password]  # fmt: skip


def bench_netsnmp(count: int, v3: bool, mode: str) -> dict[str, dict[str, float]] | None:
    """snmpget (GET of the 20 OIDs) and snmpbulkget (20 non-repeaters), one process per
    agent, against our agents: the CPU a scheduler forking net-snmp's tools would pay."""
    if shutil.which("snmpget") is None:
        return None
    agents = AgentProcess(count, mode)
    home = tempfile.mkdtemp(prefix="branchops-bench-snmp-")
    env = {"PATH": os.environ.get("PATH", ""), "MIBS": "", "HOME": home, "SNMPCONFPATH": home,
           "SNMP_PERSISTENT_DIR": home}  # fmt: skip
    figures: dict[str, dict[str, float]] = {}
    try:
        for tool, options in (("snmpget", []), ("snmpbulkget", ["-Cn20", "-Cr0"])):
            before, wall_before = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
            for number in range(count):
                target = f"{agent_address(number)}:{agents.port}"
                command = [tool, "-On", "-Oq", *netsnmp_credentials(v3), *options, target]
                subprocess.run(  # net-snmp's tools on loopback
                    [*command, *polled_oids()], env=env, check=True,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            wall = time.perf_counter() - wall_before
            # RUSAGE_CHILDREN counts finished children only: the agent process is still up.
            cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - before
            figures[tool] = {"polls": count, "wall_s": wall, "polls_per_s": count / wall,
                             "cpu_s_per_1000_oids": cpu / (count * 20 / 1000)}  # fmt: skip
    finally:
        agents.stop()
        shutil.rmtree(home, ignore_errors=True)
    return figures


# ---- report ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000, help="simulated agents (default 1000)")
    parser.add_argument("--rounds", type=int, default=10, help="poll rounds (default 10)")
    parser.add_argument("--v3", action="store_true", help="poll with SNMPv3 authPriv SHA/AES")
    parser.add_argument("--agent-mode", choices=["shared", "per-address"], default="shared")
    parser.add_argument("--codec-seconds", type=float, default=2.0)
    parser.add_argument(
        "--netsnmp",
        type=int,
        default=0,
        metavar="N",
        help="also time net-snmp's snmpget against N agents",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve_agents(args.serve, args.agent_mode))
        return 0

    report: dict[str, Any] = {"codec": bench_codec(args.codec_seconds)}
    report["poll"] = bench_poll(args.agents, args.rounds, args.v3, args.agent_mode)
    if args.netsnmp:
        report["netsnmp"] = bench_netsnmp(args.netsnmp, args.v3, args.agent_mode)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, args)
    return 0


def print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    codec, poll_figures = report["codec"], report["poll"]
    print("== BER codec, one 20-varbind Response (v2c)")
    for key in ("encode_20vb_per_s", "decode_20vb_per_s", "encode_decode_20vb_per_s"):
        rate = codec[key]
        print(
            f"  {key.replace('_20vb_per_s', ''):<14} {rate:>10,.0f} /s  "
            f"{1e6 / rate / 20:6.2f} us per varbind"
        )
    rate = codec["v3_authpriv_seal_unseal_decode_20vb_per_s"]
    print(f"  v3 authPriv    {rate:>10,.0f} /s  (seal + unseal + decode, SHA-96 + AES-128)")
    level = "v3 authPriv SHA/AES" if args.v3 else "v2c"
    print(
        f"== Poll: {args.agents} agents ({args.agent_mode} socket) x 20 OIDs x "
        f"{args.rounds} rounds, {level}"
    )
    print(f"  agent start-up        {poll_figures['agent_startup_s']:.2f} s")
    print(
        f"  wall                  {poll_figures['wall_s']:.2f} s, "
        f"{poll_figures['polls_per_s']:,.0f} polls/s, {poll_figures['oids_per_s']:,.0f} OIDs/s"
        f", {poll_figures['retries']} retries"
    )
    print(
        f"  client CPU            {poll_figures['client_cpu_s_per_1000_oids'] * 1000:.1f} ms "
        f"per 1,000 OIDs"
    )
    print(
        f"  agent CPU             {poll_figures['agent_cpu_s_per_1000_oids'] * 1000:.1f} ms "
        f"per 1,000 OIDs"
    )
    for tool, figures in (report.get("netsnmp") or {}).items():
        print(f"== net-snmp {tool}, one process per agent, {figures['polls']} agents")
        label = f"{tool} CPU"
        print(
            f"  {label:<21} {figures['cpu_s_per_1000_oids'] * 1000:.1f} ms per 1,000 OIDs, "
            f"{figures['polls_per_s']:,.0f} polls/s"
        )


if __name__ == "__main__":
    sys.exit(main())
