"""``swipeguard report-lost``, ``swipeguard investigate``, ``swipeguard index`` and
``swipeguard group``: the investigation's work from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime

from swipeguard.api.cli import add_data_dir, open_database
from swipeguard.audit import service as audit
from swipeguard.investigations import clustering, flows, service
from swipeguard.investigations.search import open_search


def register(sub: argparse._SubParsersAction) -> None:
    lost = sub.add_parser("report-lost", help="mark a card lost from a time (may be past)")
    lost.add_argument("card_no")
    lost.add_argument("--since", required=True, type=_aware,
                      help="ISO time with zone when the card was last seen, e.g. "
                           "2026-03-01T09:00+08:00")
    lost.add_argument("--reason", required=True, help="how it was lost, who reported it")
    lost.add_argument("--actor", default="cli", type=_actor,
                      help="who is reporting (for the history)")
    add_data_dir(lost)
    lost.set_defaults(func=report_lost)

    inv = sub.add_parser("investigate", help="rank the people who used a card since a time")
    inv.add_argument("card_no")
    inv.add_argument("--since", type=_aware, help="default: when the card was reported lost")
    inv.add_argument("--actor", required=True, type=_actor,
                     help="who is looking (kept in the audit trail)")
    add_data_dir(inv)
    inv.set_defaults(func=investigate)

    index = sub.add_parser("index", help="the face search indexes")
    index.add_argument("action", choices=["status", "rebuild"])
    add_data_dir(index)
    index.set_defaults(func=index_command)

    group = sub.add_parser("group", help="place new non-holder captures into suspects")
    add_data_dir(group)
    group.set_defaults(func=group_command)


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time with its zone, e.g. +08:00 or Z")
    return value


def _actor(text: str) -> str:
    try:
        return audit.check_actor(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _fail(e: Exception) -> int:
    print(f"error: {str(e).strip(chr(39))}", file=sys.stderr)
    return 2


def report_lost(args: argparse.Namespace) -> int:
    _, db = open_database(args)
    try:
        with db.transaction() as session:
            report = service.report_lost(session, card_no=args.card_no, since=args.since,
                                         actor=args.actor, reason=args.reason)
    except (LookupError, ValueError) as e:
        return _fail(e)
    print(f"card lost since {report.lost_since.isoformat()}: "
          f"{len(report.flagged_swipe_ids)} swipes flagged, {len(report.alarm_ids)} alarms")
    return 0


def investigate(args: argparse.Namespace) -> int:
    settings, db = open_database(args)
    search = open_search(settings, db)
    try:
        with db.transaction() as session:
            found = flows.investigate(session, search=search, settings=settings,
                                      card_no=args.card_no, since=args.since)
            audit.record(session, actor=args.actor, action="investigate", object_kind="card",
                         object_id=args.card_no, reason="from the command line")
    except (LookupError, ValueError) as e:
        return _fail(e)
    print(json.dumps(asdict(found), indent=2, default=str))
    return 0


def index_command(args: argparse.Namespace) -> int:
    settings, db = open_database(args)
    search = open_search(settings, db)
    reports = search.rebuild() if args.action == "rebuild" else search.sync(check=True)
    if args.action == "status":
        search.save()
    for r in reports:
        kind = "approximate" if getattr(search, r.gallery).approximate else "exact"
        print(f"{r.gallery}: {r.size} descriptors ({kind}), {r.added} added"
              + (", rebuilt" if r.rebuilt else ""))
    return 0


def group_command(args: argparse.Namespace) -> int:
    settings, db = open_database(args)
    placed = 0
    while True:
        with db.transaction() as session:
            batch = clustering.group_new_captures(
                session, link=settings.search.group_threshold,
                threshold=settings.verification.threshold)
        placed += len(batch)
        if not batch:
            break
    print(f"{placed} captures placed")
    return 0
