"""Fault rules and the decision which one applies to a request: the fake breaking on purpose."""

from __future__ import annotations

import base64
import binascii
import copy
import fnmatch
import math
import random
import re
import threading
from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from .connectwise.store import StoreEvent
from .rate_limit import RateLimiter

Now = Callable[[], datetime]
Lineage = Callable[[str], tuple[str, ...]]

ADMIN_PREFIX = "/_sim"
DASHBOARD_PATH = "/"
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIMULATED, WALL = "simulated", "wall"
CLOCKS = (SIMULATED, WALL)
CONNECTWISE_API = ("apis", "3.0")
MAX_DELAY_S = 600.0  # a drawn delay never holds a thread longer than the longest fixed one


class Domain(Protocol):
    """What triggers may look up in the fake's current state (read only, without the store lock)."""

    def ticket_closed(self, ticket_id: int) -> bool: ...

    def company_id(self, reference: Any) -> int | None: ...


class Trigger(Protocol):
    """A domain event that decides whether a rule applies (see fault_triggers.py)."""

    on: str

    def applies(self, request: FaultRequest, domain: Domain | None) -> bool: ...

    def observe(self, event: StoreEvent) -> None: ...

    def fired(self) -> None: ...

    def as_json(self) -> dict[str, Any]: ...


def wall_now() -> datetime:
    return datetime.now(UTC)


def is_admin_path(path: str) -> bool:
    """`/_sim` and below, and the dashboard at `/`: the control plane is never faulted (nor journaled)."""
    return path in (ADMIN_PREFIX, DASHBOARD_PATH) or path.startswith(ADMIN_PREFIX + "/")


def connectwise_path(path: str) -> str | None:
    """The part of a ConnectWise API path after `/{codebase}/apis/3.0/`, or None for any other path."""
    parts = path.split("/", 4)
    if len(parts) < 4 or parts[2].casefold() != CONNECTWISE_API[0] or parts[3] != CONNECTWISE_API[1]:
        return None
    return parts[4].strip("/") if len(parts) == 5 else ""


# -- what a rule sees of a request --------------------------------------------------------


def client_of(authorization: str | None, address: str | None) -> str:
    """Who a rate limit counts: the Basic auth user (`companyId+publicKey`, or `companyId+username` for
    an integrator login), else the remote address. The secret after the colon is never kept."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            user = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if user:
            return "user:" + user
    return "address:" + (address or "unknown")


class FaultRequest:
    """What a rule can see of a request; the collection, the client and the body are worked out
    only if a rule asks."""

    def __init__(
        self,
        method: str,
        path: str,
        lineage: Lineage | None = None,
        client: Callable[[], str] | None = None,
        body: Callable[[], bytes] | None = None,
    ) -> None:
        self.method = method.upper()
        self.path = path.rstrip("/") or "/"
        self.api_path = connectwise_path(path)
        self._lineage = lineage
        self._collections: tuple[str, ...] | None = None
        self._client = client
        self._body = body

    @property
    def client(self) -> str:
        return self._client() if self._client is not None else "address:unknown"

    @property
    def body(self) -> bytes:
        return self._body() if self._body is not None else b""

    @property
    def collections(self) -> tuple[str, ...]:
        """The collection this ConnectWise path names and its parents (`service/tickets/notes`,
        `service/tickets`); empty for any other path."""
        if self._collections is None:
            found = self._lineage(self.api_path) if self._lineage and self.api_path is not None else ()
            self._collections = found
        return self._collections


class RequestSelector:
    """Which requests a rule is about: method (or any) and a path glob or a collection (or any)."""

    def __init__(
        self, methods: frozenset[str] | None = None, path: str | None = None, collection: str | None = None
    ) -> None:
        self.methods = methods
        self.path = path
        self.collection = collection.strip("/").casefold() if collection else None
        self._pattern = re.compile(fnmatch.translate(path.strip("/")), re.IGNORECASE) if path else None

    def matches(self, request: FaultRequest) -> bool:
        if self.methods is not None and request.method not in self.methods:
            return False
        if self._pattern is not None and not self._path_matches(request):
            return False
        return self.collection is None or self.collection in request.collections

    def _path_matches(self, request: FaultRequest) -> bool:
        """The glob against the path after /apis/3.0/ (ConnectWise) or against the whole path (any face)."""
        if request.api_path is not None and self._pattern.match(request.api_path):  # type: ignore[union-attr]
            return True
        return self._pattern.match(request.path.lstrip("/")) is not None  # type: ignore[union-attr]

    def as_json(self) -> dict[str, Any]:
        if self.methods is None:
            method: str | list[str] = "*"
        elif len(self.methods) == 1:
            (method,) = self.methods
        else:
            method = sorted(self.methods)
        found: dict[str, Any] = {"method": method}
        if self.path is not None:
            found["path"] = self.path
        if self.collection is not None:
            found["collection"] = self.collection
        return found


# -- effects ------------------------------------------------------------------------------


class Stage(Enum):
    """Where an effect happens."""

    FRONT = "front"  # before the app handles the request: answer now, or delay and go on
    COMMIT = "commit"  # the request runs; once a write of it commits, its success is replaced
    BEHIND = "behind"  # the request runs; its answer is spoiled on the way out
    CONNECTION = "connection"  # the fault proxy acts on the connection; the app never decides these


class Delay(Protocol):
    """Added latency: fixed, or drawn from a distribution with the rule's seeded RNG."""

    def seconds(self, rng: random.Random) -> float: ...

    def as_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FixedDelay:
    ms: float

    def seconds(self, rng: random.Random) -> float:
        return self.ms / 1000

    def as_json(self) -> dict[str, Any]:
        return {"latency_ms": self.ms}


@dataclass(frozen=True)
class LognormalDelay:
    """A long-tailed delay, as WireMock's: half the draws under `median_ms`, spread by `sigma`."""

    median_ms: float
    sigma: float

    def seconds(self, rng: random.Random) -> float:
        return min(rng.lognormvariate(math.log(self.median_ms), self.sigma) / 1000, MAX_DELAY_S)

    def as_json(self) -> dict[str, Any]:
        return {"delay_distribution": {"type": "lognormal", "median_ms": self.median_ms, "sigma": self.sigma}}


@dataclass(frozen=True)
class UniformDelay:
    """A delay anywhere from `lower_ms` to `upper_ms`, evenly."""

    lower_ms: float
    upper_ms: float

    def seconds(self, rng: random.Random) -> float:
        return rng.uniform(self.lower_ms, self.upper_ms) / 1000

    def as_json(self) -> dict[str, Any]:
        return {"delay_distribution": {"type": "uniform", "lower_ms": self.lower_ms, "upper_ms": self.upper_ms}}


@dataclass(frozen=True)
class FaultAnswer:
    """The error a fault answers with, in ConnectWise's shape."""

    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "errors": None}


DEFAULT_ANSWERS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid."),
    401: ("Unauthorized", "UserNotAuthenticated"),
    403: ("Forbidden", "You do not have permission to perform this action."),
    404: ("NotFound", "The requested resource was not found."),
    408: ("RequestTimeout", "The request timed out."),
    409: ("Conflict", "The request conflicts with the current state of the resource."),
    429: ("TooManyRequests", "Too many requests; retry later."),
    500: ("ConnectWiseApi", "An error occurred while processing the request."),
    502: ("BadGateway", "The server received an invalid response from an upstream server."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The server did not answer in time."),
}


def fault_answer(
    status: int, code: str | None = None, message: str | None = None, headers: Iterable[tuple[str, str]] = ()
) -> FaultAnswer:
    """An answer for `status`, with ConnectWise-like defaults for the code and message."""
    default_code, default_message = DEFAULT_ANSWERS.get(
        status, ("ConnectWiseApi", "An error occurred.") if status >= 500 else ("BadRequest", "The request failed.")
    )
    return FaultAnswer(status, code or default_code, message or default_message, tuple(headers))


class Effect(Protocol):
    """What a rule does to a request it applies to. A new kind is one more class like those below."""

    kind: str
    stage: Stage
    answer: FaultAnswer | None  # the error to answer with; None lets the app answer
    delay: Delay | None

    def as_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StatusFault:
    """Answer at once with a status and a ConnectWise error body."""

    answer: FaultAnswer
    delay: Delay | None = None
    kind = "status"
    stage = Stage.FRONT

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self)


@dataclass(frozen=True)
class Throttle:
    """Answer at once with 429 and a `Retry-After` in seconds."""

    retry_after: int
    answer: FaultAnswer
    delay: Delay | None = None
    kind = "throttle"
    stage = Stage.FRONT

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self, {"retry_after": self.retry_after}, with_status=False)


@dataclass(frozen=True)
class Latency:
    """Delay the request, then let the app answer it."""

    delay: Delay
    kind = "latency"
    stage = Stage.FRONT
    answer = None

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self)


@dataclass(frozen=True)
class Outage:
    """Every matching request fails (503 by default) until the rule's window ends."""

    answer: FaultAnswer
    delay: Delay | None = None
    kind = "outage"
    stage = Stage.FRONT

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self)


@dataclass(frozen=True)
class CommitThenFail:
    """The write really happens and is committed; then the client gets a 5xx instead of its success."""

    answer: FaultAnswer
    delay: Delay | None = None
    kind = "commit_then_fail"
    stage = Stage.COMMIT

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self)


@dataclass(frozen=True)
class MalformedJson:
    """The fake answers as usual (a write commits), but the body is cut in the middle: invalid JSON."""

    delay: Delay | None = None
    kind = "malformed_json"
    stage = Stage.BEHIND
    answer = None

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self)


@dataclass(frozen=True)
class RateLimit:
    """A gate: past `requests` per `per_s` seconds of wall time per client, answer 429 with Retry-After.

    A request under the limit is counted and steps aside, so the rules after this one still apply.
    """

    requests: int
    per_s: float
    answer: FaultAnswer  # its Retry-After is worked out per refused request
    delay: Delay | None = None
    kind = "rate_limit"
    stage = Stage.FRONT

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self, {"requests": self.requests, "per_s": self.per_s}, with_status=False)


REQUEST, RESPONSE = "request", "response"


@dataclass(frozen=True)
class ConnectionFault:
    """Done by the fault proxy: `connection_reset` (a TCP RST) or `empty_response` (closed without a
    byte). At `request`, the request never reaches the fake; at `response`, the fake handles it (a
    write commits) and the answer is lost."""

    kind: str
    at: str = RESPONSE
    delay: Delay | None = None
    stage = Stage.CONNECTION
    answer = None

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self, {"at": self.at})


@dataclass(frozen=True)
class Dribble:
    """Done by the fault proxy: the fake's answer arrives in `chunks` pieces spread over `duration_ms`."""

    chunks: int
    duration_ms: float
    delay: Delay | None = None
    kind = "dribble"
    stage = Stage.CONNECTION
    answer = None

    def as_json(self) -> dict[str, Any]:
        return _effect_json(self, {"chunks": self.chunks, "duration_ms": self.duration_ms})


def _effect_json(effect: Effect, extra: dict[str, Any] | None = None, with_status: bool = True) -> dict[str, Any]:
    found: dict[str, Any] = {"kind": effect.kind}
    answer = effect.answer
    if answer is not None:
        if with_status:
            found["status"] = answer.status
        found.update({"code": answer.code, "message": answer.message})
    found.update(extra or {})
    if effect.delay is not None:
        found.update(effect.delay.as_json())
    return found


# -- when a rule fires --------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSpec:
    """A window as written: absolute start/end, or a duration from the start (or from when added)."""

    clock: str = SIMULATED
    start: datetime | None = None
    end: datetime | None = None
    duration: timedelta | None = None

    def resolve(self, added_at: datetime) -> Window:
        start = self.start or added_at
        end = self.end or (start + self.duration if self.duration is not None else None)
        return Window(self.clock, start, end)


@dataclass(frozen=True)
class Window:
    """When a rule may fire, on the simulated or the wall clock: start <= now < end."""

    clock: str
    start: datetime
    end: datetime | None

    def position(self, now: datetime) -> str:
        if now < self.start:
            return "pending"
        if self.end is not None and now >= self.end:
            return "over"
        return "open"

    def as_json(self) -> dict[str, Any]:
        return {"clock": self.clock, "start": iso(self.start), "end": iso(self.end) if self.end else None}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class FaultSpec:
    """A rule as written (validated), before the book gives it an id, a window and an RNG."""

    effect: Effect
    selector: RequestSelector
    probability: float | None = None
    seed: int | None = None
    count: int | None = None
    window: WindowSpec | None = None
    name: str | None = None
    trigger: Trigger | None = None


class FaultRule:
    """One rule in the book: what it matches, when it fires, what it does, and how often it did."""

    def __init__(self, rule_id: int, spec: FaultSpec, window: Window | None, seed: int) -> None:
        self.id = rule_id
        self.spec = spec
        self.selector = spec.selector
        self.effect = spec.effect
        self.window = window
        self.seed = seed
        self.rng = random.Random(seed)
        self.trigger = copy.deepcopy(spec.trigger)  # its counts are this rule's, fresh after a reset
        self.limiter = RateLimiter() if isinstance(spec.effect, RateLimit) else None
        self.matched = 0  # requests that fit the rule while it was live
        self.fired = 0  # times it applied its effect
        self.removed = False

    @property
    def spent(self) -> bool:
        return self.spec.count is not None and self.fired >= self.spec.count

    @property
    def connection(self) -> bool:
        """Decided by the fault proxy, not by the app."""
        return self.effect.stage is Stage.CONNECTION

    def state(self, now: dict[str, datetime]) -> str:
        """Live, spent (its count is used up), pending or over (outside its window), or removed.

        `now` holds the time on each clock a window of the book uses.
        """
        if self.removed:
            return "removed"
        if self.spent:
            return "spent"
        if self.window is not None:
            position = self.window.position(now[self.window.clock])
            if position != "open":
                return position
        return "live"

    def as_json(self, now: dict[str, datetime]) -> dict[str, Any]:
        spec = self.spec
        found: dict[str, Any] = {"id": self.id}
        if spec.name is not None:
            found["name"] = spec.name
        found.update(self.selector.as_json())
        found["effect"] = self.effect.as_json()
        if spec.probability is not None:
            found["probability"] = spec.probability
        found["seed"] = self.seed
        if spec.count is not None:
            found["count"] = spec.count
        if self.window is not None:
            found["window"] = self.window.as_json()
        if self.trigger is not None:
            found["trigger"] = self.trigger.as_json()
        found.update({"matched": self.matched, "fired": self.fired, "state": self.state(now)})
        return found


@dataclass
class FaultDecision:
    """The rule that applies to one request, and what it does to it."""

    rule: FaultRule
    delay_s: float = 0.0
    committed: bool = False  # commit stage: a write of this request committed and the rule fired
    answer: FaultAnswer | None = None  # set when the answer depends on the request (a rate limit's wait)

    @property
    def effect(self) -> Effect:
        return self.rule.effect

    @property
    def answer_now(self) -> FaultAnswer | None:
        if self.rule.effect.stage is not Stage.FRONT:
            return None
        return self.answer or self.rule.effect.answer

    @property
    def waits_for_commit(self) -> bool:
        return self.rule.effect.stage is Stage.COMMIT

    @property
    def spoils_answer(self) -> bool:
        return self.rule.effect.stage is Stage.BEHIND


# -- the book -----------------------------------------------------------------------------


class FaultBook:
    """The ordered fault rules of one world; the first rule that applies to a request wins.

    A rule applies when its selector fits the request, it is live (inside its window, its count
    not used up) and its probability draw (if any) succeeds; a rule whose draw fails steps aside
    for the rules after it.
    """

    def __init__(self, simulated: Now, wall: Now = wall_now, default_seed: int = 0) -> None:
        self._clocks: dict[str, Now] = {SIMULATED: simulated, WALL: wall}
        self.default_seed = default_seed
        self._lock = threading.Lock()
        self._rules: tuple[FaultRule, ...] = ()  # replaced, never changed in place: readers need no lock
        self._window_clocks: frozenset[str] = frozenset()
        self._next_id = 1
        self._initial: tuple[FaultSpec, ...] = ()
        self.domain: Domain | None = None  # set by the world once it has a store
        self._watching: ContextVar[FaultDecision | None] = ContextVar("cwsim_fault_watching", default=None)

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return self._rules

    def _now(self) -> dict[str, datetime]:
        # Clocks are read before taking the book's lock, never under it: a simulated clock may
        # have a lock of its own.
        return {clock: self._clocks[clock]() for clock in self._window_clocks}

    def _replace_rules(self, rules: tuple[FaultRule, ...]) -> None:
        self._rules = rules
        self._window_clocks = frozenset(rule.window.clock for rule in rules if rule.window is not None)

    # -- the list -------------------------------------------------------------------------

    def add(self, specs: Iterable[FaultSpec]) -> list[FaultRule]:
        """Append rules (in order) and return them with their ids."""
        specs = list(specs)
        added_at = {clock: self._clocks[clock]() for clock in {s.window.clock for s in specs if s.window}}
        with self._lock:
            added = []
            for spec in specs:
                window = spec.window.resolve(added_at[spec.window.clock]) if spec.window else None
                seed = spec.seed if spec.seed is not None else self.default_seed
                added.append(FaultRule(self._next_id, spec, window, seed))
                self._next_id += 1
            self._replace_rules((*self._rules, *added))
            return added

    def find(self, rule_id: int) -> FaultRule | None:
        return next((rule for rule in self._rules if rule.id == rule_id), None)

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            rule = self.find(rule_id)
            if rule is None:
                return False
            rule.removed = True
            self._replace_rules(tuple(kept for kept in self._rules if kept is not rule))
            return True

    def clear(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        for rule in self._rules:
            rule.removed = True
        self._replace_rules(())

    def set_initial(self, specs: Iterable[FaultSpec]) -> None:
        """The rules a reset comes back to (those given at start); also puts them in place now."""
        self._initial = tuple(specs)
        self.reset()

    def reset(self) -> None:
        """Back to the rules given at start, with fresh counters, RNGs, windows and ids from 1."""
        with self._lock:
            self._clear()
            self._next_id = 1
        self.add(self._initial)

    def describe(self, rules: Iterable[FaultRule] | None = None) -> list[dict[str, Any]]:
        """Rules as JSON with their counters and state (all of them unless `rules` says which)."""
        chosen = list(self._rules if rules is None else rules)
        now = {clock: self._clocks[clock]() for clock in {r.window.clock for r in chosen if r.window}}
        with self._lock:
            return [rule.as_json(now) for rule in chosen]

    # -- deciding -------------------------------------------------------------------------

    def decide(self, request: FaultRequest, connection: bool = False) -> FaultDecision | None:
        """The first rule that applies to `request`, counted; None when none does.

        The app asks about every rule but the connection faults; the fault proxy (`connection=True`)
        only about those, before the app sees the request.
        """
        if not self._rules:
            return None
        now = self._now()
        with self._lock:
            for rule in self._rules:
                if rule.connection is not connection:
                    continue
                if not rule.selector.matches(request) or not self._live(rule, now):
                    continue
                if rule.trigger is not None and not rule.trigger.applies(request, self.domain):
                    continue
                rule.matched += 1
                if rule.spec.probability is not None and rule.rng.random() >= rule.spec.probability:
                    continue
                answer = None
                if rule.limiter is not None:
                    answer = self._over_limit(rule, request)
                    if answer is None:
                        continue  # under the limit: counted, and the next rules get their chance
                delay = rule.effect.delay.seconds(rule.rng) if rule.effect.delay is not None else 0.0
                if rule.effect.stage is not Stage.COMMIT:
                    rule.fired += 1
                    if rule.trigger is not None:
                        rule.trigger.fired()
                return FaultDecision(rule, delay, answer=answer)
        return None

    @staticmethod
    def _over_limit(rule: FaultRule, request: FaultRequest) -> FaultAnswer | None:
        effect = rule.effect
        assert isinstance(effect, RateLimit) and rule.limiter is not None
        wait = rule.limiter.retry_after(request.client, effect.requests, effect.per_s)
        if wait is None:
            return None
        seconds = str(max(1, math.ceil(wait)))
        return FaultAnswer(effect.answer.status, effect.answer.code, effect.answer.message, (("Retry-After", seconds),))

    @staticmethod
    def _live(rule: FaultRule, now: dict[str, datetime]) -> bool:
        if rule.removed or rule.spent:
            return False
        window = rule.window
        # A clock missing from `now` means the rule was added after `now` was read: not live yet.
        return window is None or (window.clock in now and window.position(now[window.clock]) == "open")

    # -- behind the app: store events -----------------------------------------------------

    def watch_commits(self, decision: FaultDecision) -> Token[FaultDecision | None]:
        """From now until `stop_watching`, writes committed in this context belong to `decision`."""
        return self._watching.set(decision)

    def stop_watching(self, token: Token[FaultDecision | None]) -> None:
        self._watching.reset(token)

    def on_store_event(self, event: StoreEvent) -> None:
        """A store listener (called inside the store lock): triggers observe every committed write,
        and a committed write fires the commit-stage rule of the request that made it."""
        rules = self._rules
        if any(rule.trigger is not None for rule in rules):
            with self._lock:
                for rule in rules:
                    if rule.trigger is not None and not rule.removed:
                        rule.trigger.observe(event)
        decision = self._watching.get()
        if decision is None or decision.committed:
            return
        with self._lock:
            # Counted at the commit, not when the request matched: a POST that fails validation
            # writes nothing and must not use up a count.
            rule = decision.rule
            if not rule.removed and not rule.spent:
                rule.fired += 1
                decision.committed = True
                if rule.trigger is not None:
                    rule.trigger.fired()
