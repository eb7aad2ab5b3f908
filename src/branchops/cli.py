"""The ``branchops`` command: set up, load the demo, serve, import and export, tokens, benchmarks.

Each sub-command is a small function; Django is set up only for those that need it so that
``branchops --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

NOT_YET = 3  # exit status of a command that a later release provides


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchops.settings")
    import django
    from django.apps import apps

    if not apps.ready:  # a second setup would re-point logging at whatever stderr is now
        django.setup()


def _not_yet(what: str, issue: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"branchops {what}: not yet available (planned in {issue}).", file=sys.stderr)
        return NOT_YET

    return run


# ---- set-up and serving --------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.core import setup

    setup.migrate(verbosity=0)
    created = setup.ensure_admin(username=args.admin)
    if created is not None:
        print(f"Created administrator {args.admin!r} with password: {created}")
        print("Change it after signing in.")
    else:
        print(f"Database ready; administrator {args.admin!r} already exists.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    setup_django()
    from django.conf import settings

    from branchops.core import setup
    from branchops.core.processes import run_together
    from branchops.lab import demo
    from branchops.lab.wiring import configure_for_lab
    from branchops.monitoring import services
    from branchops.monitoring.models import Check
    from branchops.servicedesk import history

    setup.migrate(verbosity=0)
    demo.prepare(branches=args.branches, seed=args.seed, reset=args.reset)
    history.ensure_history(args.seed)
    accounts = demo.ensure_accounts()
    lab_env = configure_for_lab()
    from branchops.lab.oncall import ensure_duty, ensure_on_call
    from branchops.lab.sim.config import LabConfig

    lab_config = LabConfig.from_env()
    ensure_on_call(settings.HOME, lab_config.control_port)
    ensure_duty()
    summary = services.sync()
    setup.refresh_statistics()
    url = f"http://127.0.0.1:{args.port}/"
    demo.print_welcome(url, accounts)
    watched = Check.objects.filter(enabled=True).count()
    print(
        f"{watched} checks are watched ({summary.created} new). Engine health: "
        "http://127.0.0.1:9466/metrics. Try a fault: branchops lab fault device-down BR-0001-FW01"
    )
    if args.no_serve:
        return 0
    os.environ.update(lab_env)
    web = ["web", "--host", "127.0.0.1", "--port", str(args.port)]
    if args.workers:
        web += ["--workers", str(args.workers)]
    control = Path(settings.HOME) / "lab" / "control.json"
    control.unlink(missing_ok=True)  # left by a lab that was killed; wait for a fresh one
    return run_together(
        [("lab", ["lab"]), ("engine", ["engine"]), ("web", web)], ready={"lab": control}
    )


def cmd_web(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.core import setup

    setup.check_migrated()
    return _serve(args.port, host=args.host, workers=args.workers)


def cmd_run(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.core import setup
    from branchops.core.processes import run_together

    setup.check_migrated()
    web = ["web", "--host", args.host, "--port", str(args.port)]
    if args.workers:
        web += ["--workers", str(args.workers)]
    return run_together([("engine", ["engine"]), ("web", web)])


def cmd_engine(args: argparse.Namespace) -> int:
    setup_django()
    from django.conf import settings

    from branchops.core import setup
    from branchops.monitoring.engine.runner import EngineOptions, main
    from branchops.monitoring.metrics import open_store

    setup.check_migrated()
    options = EngineOptions(
        max_in_flight=args.max_in_flight,
        per_target=args.per_target,
        metrics_port=args.metrics_port or None,
    )
    return main(options, open_store(settings.METRICS_URL))


def cmd_lab_run(args: argparse.Namespace) -> int:
    from branchops.lab.sim.cli import run_lab

    return run_lab(args.lab_options)


def cmd_lab_fault(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.lab.sim.cli import run_fault

    return run_fault(
        args.kind,
        args.target,
        percent=args.percent,
        ms=args.ms,
        seconds=args.seconds,
        days=args.days,
    )


def cmd_lab_heal(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.lab.sim.cli import run_heal

    return run_heal(args.target, everything=args.everything)


def _serve(port: int, *, host: str, workers: int | None) -> int:
    from branchops.core.webserver import serve

    serve(host=host, port=port, workers=workers)
    return 0


# ---- data ----------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.cmdb.importing import cli_import

    return int(
        cli_import(Path(args.file), kind=args.kind, dry_run=args.dry_run, username=args.user)
    )


def cmd_export(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.cmdb.importing import cli_export

    return int(cli_export(args.kind, Path(args.file)))


def cmd_token_create(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.core.choices import ChangeSource, TokenScope
    from branchops.core.models import User
    from branchops.core.tokens import create_token

    user = User.objects.filter(username=args.user).first()
    if user is None:
        print(f"branchops token create: no user named {args.user!r}", file=sys.stderr)
        return 2
    if not user.is_active:
        print(f"branchops token create: user {args.user!r} is disabled", file=sys.stderr)
        return 2
    _, plain = create_token(
        user=user,
        name=args.name,
        scope=TokenScope(args.scope),
        expires_days=args.expires_days,
        source=ChangeSource.CLI,
    )
    print(plain)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.core.models import ApiToken

    tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
    if args.user:
        tokens = tokens.filter(user__username=args.user)
    for t in tokens:
        state = "revoked" if t.revoked_at else ("usable" if t.is_usable() else "expired")
        expires = f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never"
        print(f"bo_{t.prefix}_…  {t.user.username:<16} {t.scope:<5} {state:<8} {expires}  {t.name}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.core.choices import ChangeSource
    from branchops.core.models import ApiToken, User
    from branchops.core.tokens import revoke_token

    prefix = args.prefix.removeprefix("bo_").split("_")[0]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None:
        print(f"branchops token revoke: no token with prefix {prefix!r}", file=sys.stderr)
        return 2
    admin = User.objects.filter(is_superuser=True).order_by("pk").first() or token.user
    revoke_token(token, actor=admin, source=ChangeSource.CLI)
    print(f"Revoked bo_{prefix}_… of {token.user.username}")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    setup_django()
    from branchops.core import setup

    try:
        password = setup.create_user(args.username, role=args.role, sites=args.site or [])
    except ValueError as exc:
        print(f"branchops user create: {exc}", file=sys.stderr)
        return 2
    print(f"Created {args.username!r} ({args.role}) with password: {password}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from branchops.core.bench import run_benchmark

    return run_benchmark(args.name, args.options)


def cmd_manage(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchops.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["branchops manage", *args.args])
    return 0


# ---- parser --------------------------------------------------------------------------------


def _serving_options(p: argparse.ArgumentParser, *, host: bool = True) -> None:
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    if host:
        p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="web worker processes (default: 2 x CPU cores + 1)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="branchops",
        description="BranchOps: operations for hundreds of branches and a few data centres.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create or upgrade the database and an administrator")
    p.add_argument("--admin", default="admin", help="administrator user name")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo", help="load Example Securities and serve it")
    p.add_argument("--branches", type=int, default=620, help="number of branches (default 620)")
    p.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    p.add_argument("--reset", action="store_true", help="delete the estate and load it again")
    p.add_argument("--no-serve", action="store_true", help="load, print the logins and exit")
    _serving_options(p, host=False)
    p.set_defaults(func=cmd_demo)

    for name, func, help_text in (
        ("run", cmd_run, "web UI and collection engine for a single-node install"),
        ("web", cmd_web, "the web UI and REST API"),
    ):
        p = sub.add_parser(name, help=help_text)
        _serving_options(p)
        p.set_defaults(func=func)

    _add_engine_commands(sub)
    _add_data_commands(sub)
    _add_account_commands(sub)

    p = sub.add_parser("bench", help="run a benchmark from benchmarks/ (e.g. api)")
    p.add_argument("name")
    p.add_argument("options", nargs=argparse.REMAINDER, help="passed to the benchmark")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("manage", help="Django management commands", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    return parser


def _add_engine_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("engine", help="the collection engine: run every check on schedule")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=9466,
        help="engine health at http://127.0.0.1:PORT/metrics (0: off; default 9466)",
    )
    p.add_argument("--max-in-flight", type=int, default=2000, help="checks running at once")
    p.add_argument("--per-target", type=int, default=4, help="checks at once per device")
    p.set_defaults(func=cmd_engine)

    p = sub.add_parser(
        "lab",
        help="the simulated estate on 127.0.0.0/8 (options: branchops lab --help-run)",
        description="Without an action: run the simulator (branchops lab --help-run for its "
        "options). With an action: inject or heal a fault in the running lab.",
    )
    lab = p.add_subparsers(dest="lab_command", metavar="ACTION")
    p.set_defaults(func=cmd_lab_run)
    f = lab.add_parser("fault", help="inject a fault: KIND TARGET")
    f.add_argument(
        "kind",
        help="device-down, vpn-down, interface-down, packet-loss, latency, "
        "cpu-spike, clock-drift, cert-expiry or reboot",
    )
    f.add_argument("target", help="a device, device:interface, link or site code")
    f.add_argument("--percent", type=float, help="packet-loss: share of packets lost")
    f.add_argument("--ms", type=float, help="latency: added delay")
    f.add_argument("--seconds", type=float, help="clock-drift: clock offset")
    f.add_argument("--days", type=float, help="cert-expiry: days left on the certificate")
    f.set_defaults(func=cmd_lab_fault)
    h = lab.add_parser("heal", help="heal a target, or --all")
    h.add_argument("target", nargs="?")
    h.add_argument("--all", action="store_true", dest="everything")
    h.set_defaults(func=cmd_lab_heal)


def _add_data_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help="import sites, devices, links, systems or contracts")
    p.add_argument("file", help="a .csv (UTF-8 or GBK/GB18030) or .xlsx file")
    p.add_argument("--kind", help="what the file holds; guessed from its columns when omitted")
    p.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    p.add_argument("--user", default="admin", help="whose name the audit trail records")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export KIND to FILE (.csv or .xlsx)")
    p.add_argument("kind", choices=["sites", "devices", "links", "systems", "contracts"])
    p.add_argument("file")
    p.set_defaults(func=cmd_export)


def _add_account_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("token", help="API tokens")
    tok = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    c = tok.add_parser("create", help="print a new API token for a user")
    c.add_argument("--user", required=True)
    c.add_argument("--name", default="cli", help="what the token is for")
    c.add_argument("--scope", choices=["read", "write"], default="write")
    c.add_argument(
        "--expires-days",
        type=int,
        default=None,
        help="days until it expires (default 90; 0 for never)",
    )
    c.set_defaults(func=cmd_token_create)
    c = tok.add_parser("list", help="list tokens (never their secrets)")
    c.add_argument("--user")
    c.set_defaults(func=cmd_token_list)
    c = tok.add_parser("revoke", help="revoke a token by its prefix")
    c.add_argument("prefix")
    c.set_defaults(func=cmd_token_revoke)

    p = sub.add_parser("user", help="user accounts")
    usr = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    c = usr.add_parser("create", help="create a user and print a generated password")
    c.add_argument("username")
    c.add_argument(
        "--role",
        required=True,
        choices=[
            "admin",
            "noc_operator",
            "ops_engineer",
            "technical_expert",
            "branch_liaison",
            "auditor",
        ],
    )
    c.add_argument("--site", action="append", help="site code a branch liaison looks after")
    c.set_defaults(func=cmd_user_create)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    lab_options: list[str] = []
    if argv[:1] == ["lab"] and argv[1:2] not in (["fault"], ["heal"], ["-h"], ["--help"]):
        # `branchops lab [simulator options]`: the simulator parses its own options.
        lab_options = [("--help" if a == "--help-run" else a) for a in argv[1:]]
        argv = ["lab"]
    args = build_parser().parse_args(argv)
    args.lab_options = lab_options
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
