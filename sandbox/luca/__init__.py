"""Luca Koza simulator: the ``/Yetki/*.do`` JSON API with its sessions, quirks and faults.

See ``/work/shared/specs/luca-api.md`` for the behaviour reproduced and ``app.py`` for the
request pipeline. Only :func:`add_arguments` and :func:`build_app` are used by the CLI.
"""

from __future__ import annotations

import argparse

from sandbox.luca.config import SESSION_ERROR_CODES, Settings, Switches
from sandbox.luca.faults import COMMIT_MODES, KINDS, FaultConfig, FaultConfigError, FaultRule, parse_cli_fault
from sandbox.luca.seed import DEFAULT_BRANCHES, DEFAULT_COMPANY, Branch
from sandbox.server import WSGIApp

_FAULT_HELP = (
    "arm a fault: KIND=SPEC, repeatable. SPEC is a comma list of a probability (0.1), "
    "every:N (every N-th eligible call), mode:M (commit_then_fail only: "
    f"{'|'.join(COMMIT_MODES)}) and actions:A|B (limit to these actions). Kinds: "
    "reset (TCP RST before anything), bad_gateway (HTTP 502 NetScaler page), "
    "html_login (HTTP 200 HTML login page, session dropped), session_expiry (session "
    "invalidated, 1001/1002), branch_loss (branch selection dropped, 1003), empty_error "
    '({"error":true} without message, nothing saved), slow (sleep --luca-slow-seconds, then '
    "answer), commit_then_fail (Ekle/Guncelle/Sil only: saved, then the reply is lost). "
    "Login and branch actions are exempt unless listed in actions. "
    "Example: --luca-fault reset=0.05 --luca-fault commit_then_fail=0.2,mode:html"
)


def _fault_arg(text: str) -> tuple[str, FaultRule]:
    try:
        return parse_cli_fault(text)
    except FaultConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _branches_arg(text: str) -> tuple[Branch, ...]:
    branches: list[Branch] = []
    for part in text.split(","):
        branch_id, _, name = part.strip().partition(":")
        if not branch_id.isdigit():
            raise argparse.ArgumentTypeError(f"branch id must be numeric: {part!r}")
        branches.append(Branch(branch_id, name or ("Merkez" if not branches else f"Şube {branch_id}")))
    return tuple(branches)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("luca", "Luca Koza simulator (admin API under /_admin/, loopback only)")
    group.add_argument("--luca-org-code", default="1234567", help="accepted orgCode (default 1234567)")
    group.add_argument("--luca-username", default="demo", help="accepted userName (default demo)")
    group.add_argument("--luca-password", default="demo-luca-pass", help="accepted userPassword")
    group.add_argument("--luca-company", default=DEFAULT_COMPANY, help="company name shown in branch replies")
    group.add_argument(
        "--luca-branches",
        type=_branches_arg,
        default=DEFAULT_BRANCHES,
        help="branches as ID[:NAME],... (default 11746:Merkez)",
    )
    group.add_argument("--luca-page-size", type=int, default=10, help="list page size without No-Paging (default 10)")
    group.add_argument(
        "--luca-session-ttl", type=float, default=1200.0, help="idle session TTL in seconds (default 1200)"
    )
    group.add_argument(
        "--luca-session-error-code",
        choices=SESSION_ERROR_CODES,
        default="by_action",
        help="'Login olunmalı.' code: by_action (1002 on Ydl*/GuncelleYtk* and wrong-node "
        "requests, 1001 elsewhere; default), 1001, 1002, or alternate",
    )
    group.add_argument(
        "--luca-card-code-case-insensitive",
        action="store_true",
        help="treat stock card codes differing only in case as duplicates (default: exact match)",
    )
    group.add_argument(
        "--luca-customer-code-unique",
        action="store_true",
        help="reject duplicate cari kartKod (default: no uniqueness, as the harder case)",
    )
    group.add_argument(
        "--luca-multi-session",
        action="store_true",
        help="let a user hold several sessions (default: a new login evicts the user's older ones)",
    )
    group.add_argument("--luca-latency-ms", type=float, default=0.0, help="latency added to every /Yetki call")
    group.add_argument("--luca-jitter-ms", type=float, default=0.0, help="uniform +/- jitter on that latency")
    group.add_argument(
        "--luca-slow-seconds", type=float, default=35.0, help="delay of the slow/timeout faults (default 35)"
    )
    group.add_argument(
        "--luca-fault", type=_fault_arg, action="append", default=[], metavar="KIND=SPEC", help=_FAULT_HELP
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    faults = FaultConfig(
        latency_ms=args.luca_latency_ms,
        jitter_ms=args.luca_jitter_ms,
        slow_seconds=args.luca_slow_seconds,
        single_session_per_user=not args.luca_multi_session,
        # --seed belongs to the shared CLI (defined by the Katana side).
        seed=getattr(args, "seed", 42),
        faults=dict(args.luca_fault),
    )
    switches = Switches(
        page_size=args.luca_page_size,
        session_ttl=args.luca_session_ttl,
        card_code_case_insensitive=args.luca_card_code_case_insensitive,
        customer_code_unique=args.luca_customer_code_unique,
        session_error_code=args.luca_session_error_code,
    )
    return Settings(
        org_code=args.luca_org_code,
        username=args.luca_username,
        password=args.luca_password,
        company=args.luca_company,
        branches=args.luca_branches,
        switches=switches,
        faults=faults,
    )


def build_app(args: argparse.Namespace) -> WSGIApp:
    from sandbox.luca.app import build

    return build(settings_from_args(args))


__all__ = ["KINDS", "add_arguments", "build_app", "settings_from_args"]
