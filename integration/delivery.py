"""Delivers one claimed alert event: its email, then its ticket or note, through the outbox's states.

    queued ──(email: sent / held back / failed, recorded once)
       │
       ├─ routed nowhere ─────────────────────────────────────────────► skipped
       ├─ email only, or a clear with no open ticket ─────────────────► done
       ├─ no open ticket for the alert key:  create_sent ─► done(ticket, linked to the device)
       │                                     (created(ticket) ─► linked ─► done when the link fails)
       └─ an open ticket T:                  create_sent(T) ─► done(note)
                                             (created(note) ─► done when a clear closes T)

`create_sent` is recorded before each POST that creates something. Coming back to a delivery in
`create_sent` (its answer was lost, the server failed after committing, the process died) the
deliverer first looks for what it may already have made — the open ticket by its
`externalXRef`, the note by the event's marker line — and posts only if it finds nothing. A
ticket link is checked the same way before it is re-posted. That is the whole of the
duplicate-prevention: the outbox makes delivery at least once, the look-ups make it
effectively once.

While ConnectWise is failing (the workers' circuit breaker is open), a delivery still sends its
email and then waits for the ticket part without calling ConnectWise: email does not wait for an
outage to end. Errors are raised to the caller (the worker), which decides between retry, hold and
fail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .alerts import Alert
from .boards import BoardCatalog, SetupProblem
from .mail import FAILED, UNWANTED, AlertMailer, MailFailed
from .outbox import CREATE_SENT, CREATED, LINKED, QUEUED, Delivery, Outbox
from .routing import AlertRouter
from .settings import AlertSettings
from .targets import DeviceDirectory, DeviceUnmapped, TicketTarget
from .tickets import TicketWriter

__all__ = ["AlertDeliverer", "ConnectWiseResting", "MailPending"]

log = logging.getLogger("cwsim.integration.delivery")


class MailPending(Exception):
    """The ticket side is done but the email failed for now: try the delivery again later."""


class _MailOutcome:
    """What became of a delivery's email, until the outbox has recorded it (with whichever move comes first)."""

    def __init__(self) -> None:
        self.outcome: str | None = None
        self.detail: str | None = None

    def take(self) -> dict[str, str | None]:
        """The keyword arguments that record it, once; nothing the second time."""
        outcome, self.outcome = self.outcome, None
        return {"mail": outcome, "error": self.detail} if outcome is not None else {}


class ConnectWiseResting(Exception):
    """ConnectWise has been failing and is left alone for `pause` seconds; the ticket part waits that long."""

    def __init__(self, pause: float) -> None:
        super().__init__(f"ConnectWise has been failing; the ticket part waits {pause:.2f} s")
        self.pause = pause


class AlertDeliverer:
    """Moves one delivery as far as it can go; safe to call again on the same delivery after any failure."""

    def __init__(
        self,
        outbox: Outbox,
        router: AlertRouter,
        directory: DeviceDirectory,
        boards: BoardCatalog,
        tickets: TicketWriter,
        mailer: AlertMailer | None,
        settings: AlertSettings,
        *,
        connectwise_pause: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.outbox = outbox
        self.router = router
        self.directory = directory
        self.boards = boards
        self.tickets = tickets
        self.mailer = mailer
        self.settings = settings
        self.connectwise_pause = connectwise_pause

    def deliver(self, delivery: Delivery, worker: str) -> bool:
        """Deliver as far as possible; True if ConnectWise was called (and answered every call)."""
        alert = Alert(delivery.payload)
        route = self.router.route(alert)
        started = delivery.state != QUEUED  # a ticket or note under way is finished whatever the route says now
        if route.nowhere and not started:
            self.outbox.mark_skipped(delivery.id, worker, route.reason)
            return False
        mail = _MailOutcome()
        mail_error = None
        if delivery.mail is None:
            if route.email:
                mail_error = self._email(delivery, alert, mail)
            else:
                mail.outcome = UNWANTED  # recorded with the first move, so later emails of the group go ahead
        ticketed = route.ticket or started
        try:
            made: dict[str, int] = {}
            if ticketed:
                if (pause := self.connectwise_pause()) > 0:
                    raise ConnectWiseResting(pause)
                try:
                    made = self._ticket(delivery, alert, worker, mail)
                except (DeviceUnmapped, SetupProblem) as held:
                    if mail_error is None:
                        raise
                    # Its email is still due and the mail server is failing: it waits for the mail server
                    # (retried as an outside failure), not only for a mapping, and is never counted to do.
                    raise MailPending(f"{mail_error}; the ticket waits too: {held}") from held
            if mail_error is not None:
                if made:  # recorded now: the retry must not depend on finding the ticket open again
                    self.outbox.mark_created(delivery.id, worker, **made)
                raise MailPending(str(mail_error))
            self.outbox.mark_done(delivery.id, worker, **made, **mail.take())
        except BaseException:
            if mail.outcome is not None:  # the email went (or was held back): never send it again
                self.outbox.mark_mail(delivery.id, worker, **mail.take())
            raise
        return ticketed

    # -- email ---------------------------------------------------------------------------------

    def _email(self, delivery: Delivery, alert: Alert, mail: _MailOutcome) -> MailFailed | None:
        """Send (or hold back) the email; its outcome goes into `mail`; a transient failure is returned."""
        if self.mailer is None:
            mail.outcome = UNWANTED
            return None
        try:
            mail.outcome = self.mailer.send(alert, delivery.id)
        except MailFailed as error:
            if not error.permanent:
                return error
            log.warning("alert %s: email failed for good: %s", alert.event_id, error)
            mail.outcome, mail.detail = FAILED, f"email: {error}"
        return None

    # -- ticket ---------------------------------------------------------------------------------

    def _ticket(self, delivery: Delivery, alert: Alert, worker: str, mail: _MailOutcome) -> dict[str, int]:
        """Move the ticket side on; returns what it made but has not recorded yet (`ticket_id` or `note_id`),
        for mark_done to record."""
        state, ticket_id, note_id = delivery.state, delivery.ticket_id, delivery.note_id
        check_link = state == CREATED  # the link may have been made before the process stopped
        if state == LINKED:
            return {}
        if state == QUEUED:
            if self.outbox.waits_for_earlier(delivery):
                raise DeviceUnmapped(f"an earlier event of alert {alert.key} is held; this one waits behind it")
            target = self.directory.target(alert.serial)
            open_ticket = self.tickets.open_ticket(alert.ticket_xref)
            if open_ticket is None and alert.event == "clear":
                return {}  # nothing open to note the clear on
            if open_ticket is not None:
                self.outbox.mark_create_sent(delivery.id, worker, ticket_id=open_ticket, **mail.take())
                note_id = self.tickets.add_note(open_ticket, alert.note_text())
                return self._after_note(delivery, alert, worker, open_ticket, note_id, recorded=False)
            body = self._ticket_body(alert, target)
            self.outbox.mark_create_sent(delivery.id, worker, **mail.take())
            ticket_id = self.tickets.create(body)
            if self.settings.lookup_before_post:
                return self._link_new(delivery, alert, target, ticket_id, worker)
            self.outbox.mark_created(delivery.id, worker, ticket_id=ticket_id)
        elif state == CREATE_SENT:
            lookup = self.settings.lookup_before_post
            if ticket_id is not None:  # a note on that ticket may have been made
                note_id = self.tickets.find_note(ticket_id, alert.marker) if lookup else None
                if note_id is None:
                    note_id = self.tickets.add_note(ticket_id, alert.note_text())
                else:
                    log.info("alert %s: found note %s made by an earlier attempt", alert.event_id, note_id)
                return self._after_note(delivery, alert, worker, ticket_id, note_id, recorded=False)
            target = self.directory.target(alert.serial)
            ticket_id = self.tickets.open_ticket(alert.ticket_xref) if lookup else None
            if ticket_id is None:
                ticket_id = self.tickets.create(self._ticket_body(alert, target))
            else:
                log.info("alert %s: found ticket %s made by an earlier attempt", alert.event_id, ticket_id)
                check_link = True
            self.outbox.mark_created(delivery.id, worker, ticket_id=ticket_id, **mail.take())
        elif note_id is not None:  # created: a note whose ticket may still need closing
            assert ticket_id is not None
            return self._after_note(delivery, alert, worker, ticket_id, note_id, recorded=True)
        assert ticket_id is not None
        if self._link(alert, ticket_id, check_first=check_link):
            self.outbox.mark_linked(delivery.id, worker)
        return {}

    def _link_new(
        self, delivery: Delivery, alert: Alert, target: TicketTarget, ticket_id: int, worker: str
    ) -> dict[str, int]:
        """Link a ticket just created, leaving its id for mark_done to record with the rest.

        One outbox write instead of three (created, linked, done): the outbox's write lock is what
        limits alert throughput. Safe because the lookup covers the gap: a delivery that stops here
        comes back in create_sent and finds its ticket by `externalXRef` before posting again.
        If the link fails, the ticket is recorded at once, so the retry links it without a lookup.
        """
        try:
            self._link(alert, ticket_id, check_first=False, target=target)
        except BaseException:
            self.outbox.mark_created(delivery.id, worker, ticket_id=ticket_id)
            raise
        return {"ticket_id": ticket_id}

    def _after_note(
        self, delivery: Delivery, alert: Alert, worker: str, ticket_id: int, note_id: int, *, recorded: bool
    ) -> dict[str, int]:
        """Close the ticket on a clear when set to (recording the note first); else leave the note to mark_done."""
        if not (alert.event == "clear" and self.settings.close_on_clear):
            return {} if recorded else {"note_id": note_id}
        if not recorded:
            self.outbox.mark_created(delivery.id, worker, note_id=note_id)
        self._close(alert, ticket_id)
        return {}

    def _link(self, alert: Alert, ticket_id: int, check_first: bool, target: TicketTarget | None = None) -> bool:
        """Attach the device's configuration to the ticket (once); False if the device has none."""
        target = target or self.directory.target(alert.serial)
        if target.configuration_id is None:
            log.info(
                "alert %s: device %s has no configuration to link ticket %s to", alert.event_id, alert.serial, ticket_id
            )
            return False
        if not (check_first and self.tickets.is_linked(ticket_id, target.configuration_id)):
            self.tickets.link(ticket_id, target.configuration_id)
        return True

    def _close(self, alert: Alert, ticket_id: int) -> None:
        target = self.directory.target(alert.serial)
        closed = self.settings.closed_status
        status_id = self.boards.resolve(target.board, lambda board: board.status_id(closed))
        self.tickets.close(ticket_id, status_id)

    def _ticket_body(self, alert: Alert, target: TicketTarget) -> dict[str, Any]:
        board = self.boards.board(target.board)
        body: dict[str, Any] = {
            "summary": alert.summary(),
            "board": {"id": board.id},
            "status": {"id": self.boards.resolve(target.board, lambda b: b.status_id(target.status))},
            "company": {"id": target.company_id},
            "externalXRef": alert.ticket_xref,
            "severity": alert.ticket_severity,
            "initialDescription": alert.description(),
        }
        if target.contact_id is not None:
            body["contact"] = {"id": target.contact_id}
        ticket_type = target.ticket_type(alert.category)
        if ticket_type:
            body["type"] = {"id": self.boards.resolve(target.board, lambda b: b.type_id(ticket_type))}
        if target.subtype:
            subtype = target.subtype
            body["subType"] = {"id": self.boards.resolve(target.board, lambda b: b.subtype_id(subtype))}
        return body
