"""`gympulse dlq`: the check-in messages parked in `checkin_queue.dlq`, with their reasons.

list: how many by reason and the first ones; show ID: one dead letter's headers and body;
replay: republish the ones that can be stored now (idempotent: the consumer stores a
`checkin_id` once); purge: delete them. Output names members by id only, never personal data.
RabbitMQ or PostgreSQL unreachable is the command line's one line and exit 3 (flows/cli/errors).
"""

import sys
from collections import Counter
from contextlib import AbstractContextManager
from typing import Annotated

import orjson
import typer

from flows.cli.common import load_settings
from serving.config import Settings
from serving.messaging.dead_letter_queue import (
    DeadLetter,
    DeadLetterQueue,
    open_dead_letters,
    plan_replay,
)
from serving.vocabulary import DEAD_LETTER_REASONS

dlq_app = typer.Typer(
    help="Check-in messages parked in the dead-letter queue: list, show, replay, purge.",
    no_args_is_help=True,
)
# Bodies that are not a check-in message may be anything: `show` prints this much of them.
SHOWN_BODY_BYTES = 4096


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg="red", err=True)
    return typer.Exit(code)


def _dead_letters(settings: Settings) -> AbstractContextManager[DeadLetterQueue]:
    return open_dead_letters(settings.rabbitmq_url, settings.queue_delivery_limit)


def _members(letter: DeadLetter) -> str:
    if letter.events is None:
        return "-"
    ids = sorted({event.aluno_id for event in letter.events})
    return str(ids[0]) + (f" +{len(ids) - 1}" if len(ids) > 1 else "")


def _occurred(letter: DeadLetter) -> str:
    return letter.events[0].ocorrido_em.isoformat() if letter.events else "-"


@dlq_app.command("list")
def list_dead_letters(
    limit: Annotated[int, typer.Option(help="Dead letters shown in the table", min=0)] = 20,
) -> None:
    """Count the dead letters by reason and show the first ones (id, reason, member, time)."""
    settings = load_settings()
    with _dead_letters(settings) as queue:
        letters = queue.read()
    typer.echo(f"{queue.name}: {len(letters)} dead letter(s)")
    if not letters:
        return
    for reason, n in Counter(letter.reason for letter in letters).most_common():
        typer.echo(f"  {reason:<22} {n}")
    typer.echo("")
    typer.echo(f"{'ID':<38} {'REASON':<22} {'ALUNO_ID':<12} {'OCORRIDO_EM':<34} PARKED_AT")
    for letter in letters[:limit]:
        typer.echo(
            f"{letter.id:<38} {letter.reason:<22} {_members(letter):<12} "
            f"{_occurred(letter):<34} {letter.parked_at or '-'}"
        )
    if len(letters) > limit:
        typer.echo(f"... and {len(letters) - limit} more (--limit)")


@dlq_app.command("show")
def show_dead_letter(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="An ID from `gympulse dlq list`")],
) -> None:
    """One dead letter's reason, headers and body."""
    settings = load_settings()
    with _dead_letters(settings) as queue:
        found = [letter for letter in queue.read() if letter.id == letter_id]
    if not found:
        raise _fail(f"no dead letter with id {letter_id} in {queue.name} (see `gympulse dlq list`)")
    for letter in found:
        typer.echo(f"id: {letter.id}")
        typer.echo(f"reason: {letter.reason}")
        typer.echo(f"detail: {letter.detail or '-'}")
        typer.echo(f"parked_at: {letter.parked_at or '-'}")
        typer.echo("headers:")
        for name, value in sorted((letter.properties.headers or {}).items()):
            typer.echo(f"  {name}: {_text(value)}")
        typer.echo("body:")
        typer.echo(_body(letter))
        if len(found) > 1:
            typer.echo("")


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _body(letter: DeadLetter) -> str:
    try:
        return orjson.dumps(orjson.loads(letter.body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        shown = letter.body[:SHOWN_BODY_BYTES]
        cut = len(letter.body) - len(shown)
        return repr(shown) + (f" ... ({cut} more bytes)" if cut else "")


@dlq_app.command("replay")
def replay_dead_letters(
    reissue_conflicts: Annotated[
        bool,
        typer.Option(
            help="Also store events parked as checkin_id_conflict, each under a new id derived "
            "from it (the event stored first keeps the id). For when both events happened."
        ),
    ] = False,
) -> None:
    """Republish to checkin_queue the dead letters that can be stored now (their members exist,
    their checkin_ids are free or hold the same event). The others stay, with the reason."""
    settings = load_settings()
    with _dead_letters(settings) as queue:
        letters = queue.read()
        # PostgreSQL says what can be stored now; unreachable, nothing is replayed.
        decisions = plan_replay(letters, settings.database_url, reissue_conflicts=reissue_conflicts)
        kept: Counter[str] = Counter()
        replayed = 0
        for decision in decisions:
            if decision.events is None:
                kept[decision.why_kept or "kept"] += 1
                continue
            queue.replay(decision.letter, decision.events)
            replayed += 1
    typer.echo(f"replayed {replayed} dead letter(s) to checkin_queue; {sum(kept.values())} kept")
    for why, n in kept.most_common():
        typer.echo(f"  {n} kept: {why}")


@dlq_app.command("purge")
def purge_dead_letters(
    reason: Annotated[
        str | None,
        typer.Option(help=f"Only this reason: {', '.join(DEAD_LETTER_REASONS)}"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete the dead letters (all, or those of one reason). They cannot be replayed after."""
    if reason is not None and reason not in DEAD_LETTER_REASONS:
        raise _fail(f"unknown reason '{reason}': use one of {', '.join(DEAD_LETTER_REASONS)}", 2)
    settings = load_settings()
    with _dead_letters(settings) as queue:
        letters = [letter for letter in queue.read() if reason is None or letter.reason == reason]
        if not letters:
            typer.echo(f"{queue.name}: nothing to delete")
            return
        what = f"{len(letters)} dead letter(s)" + (f" ({reason})" if reason else "")
        if not yes:
            if not sys.stdin.isatty():
                raise _fail(f"would delete {what}: pass --yes to confirm", 2)
            typer.confirm(f"Delete {what} from {queue.name}?", abort=True)
        for letter in letters:
            queue.delete(letter)
    typer.echo(f"deleted {what} from {queue.name}")
