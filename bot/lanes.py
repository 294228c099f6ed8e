"""The worker's lanes: which job kinds share slots, so replies never queue behind tickets."""

from __future__ import annotations

from ticketbolt.bot.settings import Settings
from ticketbolt.bot.worker import Lane
from ticketbolt.handlers.assistant_choice import CHOICE_JOB
from ticketbolt.handlers.assistant_handoff import HANDOFF_JOB
from ticketbolt.handlers.sla_watchdog import NOTICE_JOB, TAG_JOB
from ticketbolt.handlers.sync import MIRROR_JOB
from ticketbolt.handlers.sync_gorgias import MESSAGE_JOB, TICKET_JOB
from ticketbolt.handlers.tickets import BACKFILL_JOB
from ticketbolt.handlers.triage import CLAIM_JOB

# A customer waits on these in a conversation: the answer (to a message or to a clarifying
# question's button), or the hand-off to a person.
ASSISTANT = frozenset({"assistant_reply", CHOICE_JOB, HANDOFF_JOB})
# An agent's reaction, shortcut or claim: create, close, reopen and assign tickets.
TICKETS = frozenset({"create_ticket", "set_status", CLAIM_JOB})
# Keeping Slack threads and Gorgias tickets in step, and SLA notices; nobody waits on one of
# these by the second.
SYNC = frozenset({MIRROR_JOB, BACKFILL_JOB, MESSAGE_JOB, TICKET_JOB, NOTICE_JOB, TAG_JOB})


def lanes(settings: Settings) -> list[Lane]:
    """The three lanes with their configured slots, each at most `TICKETBOLT_WORKER_CONCURRENCY`
    when that is set. Sync comes last, so it also runs any kind not named here."""
    ceiling = settings.worker_concurrency or max(
        settings.lane_assistant, settings.lane_tickets, settings.lane_sync
    )
    return [
        Lane("assistant", min(settings.lane_assistant, ceiling), ASSISTANT),
        Lane("tickets", min(settings.lane_tickets, ceiling), TICKETS),
        Lane("sync", min(settings.lane_sync, ceiling), SYNC),
    ]
