"""The onboarding mapping file: defaults, and choices per Datto client name and per serial, read with line numbers.

    defaults:                    # the Partner Portal's "Set Default Values"
      contact: default           # the company's default contact; a contact's name; none
      agreement: Managed Services
      board: Datto Alerts
      status: New
      routing: {device: both, agent: both}
    clients:                     # by the client's name as the Datto portal has it
      Garci aand Sons: {company: GarciaandSons}
    devices:                     # by serial number; beats clients: and defaults:
      "54B20356CB2A": {company: Northwind, product: DATTO-ALTO-OVG-500GB}
      "00012E587066": {skip: true}

Every problem names the file and the line; all of them are reported at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode

__all__ = ["DEFAULT_CONTACT", "Choices", "MappingFile", "MappingFileError", "load_mapping_file", "normal_name"]

ROUTES = ("ticket", "email", "both", "none")
DEFAULT_CONTACT = "default"  # the company's default contact
SECTIONS = ("defaults", "clients", "devices")
# A choice's name in the file -> the Choices field it sets.
KEYS = {
    "company": "company",
    "contact": "contact",
    "agreement": "agreement",
    "product": "product",
    "board": "board",
    "status": "status",
    "type": None,  # both device_type and agent_type
    "device_type": "device_type",
    "agent_type": "agent_type",
    "subtype": "subtype",
    "routing": None,  # {device, agent}
    "skip": "skip",
}
# Choices that `none` (or an empty value) may switch off.
OPTIONAL = {"contact", "agreement", "product", "device_type", "agent_type", "subtype"}


class MappingFileError(ValueError):
    """A mapping file that cannot be used; `problems` holds one `file:line: message` each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f" ({len(problems)} problems)" if len(problems) > 1 else ""
        super().__init__(f"the mapping file cannot be used{count}:\n" + "\n".join(problems))


@dataclass(frozen=True)
class Choices:
    """What one level (an entry, the defaults, the settings) chooses for a device.

    None means "not said here" (a lower level decides); "" means "none" (no contact, agreement,
    product, type or subtype). `origin` says where it was written, for reports.
    """

    company: str | None = None
    contact: str | None = None
    agreement: str | None = None
    product: str | None = None
    board: str | None = None
    status: str | None = None
    device_type: str | None = None
    agent_type: str | None = None
    subtype: str | None = None
    device_route: str | None = None
    agent_route: str | None = None
    skip: bool = False
    origin: str = ""

    def over(self, lower: Choices) -> Choices:
        """These choices, with what they leave unsaid taken from `lower`."""
        values = {
            f.name: getattr(self, f.name) if getattr(self, f.name) is not None else getattr(lower, f.name)
            for f in fields(self)
            if f.name not in ("skip", "origin")
        }
        return Choices(**values, skip=self.skip or lower.skip, origin=self.origin or lower.origin)

    def said(self) -> dict[str, Any]:
        """The choices made at this level (for the registry and reports)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "origin" and getattr(self, f.name) not in (None, False)
        }

    @classmethod
    def from_said(cls, values: dict[str, Any], origin: str = "") -> Choices:
        known = {f.name for f in fields(cls)} - {"origin"}
        return cls(**{key: value for key, value in values.items() if key in known}, origin=origin)


@dataclass
class MappingFile:
    """The parsed file; an empty one (no file) maps nothing and sets no defaults."""

    path: Path | None = None
    defaults: Choices = field(default_factory=Choices)
    clients: dict[str, Choices] = field(default_factory=dict)
    devices: dict[str, Choices] = field(default_factory=dict)

    def entry(self, serial: str, client_name: str | None) -> Choices | None:
        """The file's choices for one device: its serial's entry over its client's, or None."""
        by_serial = self.devices.get(serial.strip().upper())
        by_client = self.clients.get(normal_name(client_name or ""))
        if by_serial and by_client:
            return by_serial.over(by_client)
        return by_serial or by_client

    def routes(self) -> Iterator[tuple[str, str, str]]:
        """(where, alert kind, route) for every route the file sets."""
        for choices in (self.defaults, *self.clients.values(), *self.devices.values()):
            for kind, route in (("device", choices.device_route), ("agent", choices.agent_route)):
                if route is not None:
                    yield choices.origin, kind, route


def normal_name(name: str) -> str:
    """A client or company name as compared: case and runs of spaces do not count."""
    return " ".join(name.split()).casefold()


def load_mapping_file(path: str | Path) -> MappingFile:
    """Read and check a mapping file; raise MappingFileError naming each problem's file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise MappingFileError([f"{path}: cannot read the mapping file: {reason}"]) from error
    return _Reader(path).read(text)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self.constructor = SafeConstructor()

    def problem(self, node: Node | None, message: str) -> None:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        self.problems.append(f"{self.path}{line}: {message}")

    def read(self, text: str) -> MappingFile:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise MappingFileError([f"{self.path}{where}: not valid YAML: {problem}"]) from error
        mapping = MappingFile(self.path)
        if root is None:
            return mapping
        if not isinstance(root, MappingNode):
            raise MappingFileError([f"{self.path}:{root.start_mark.line + 1}: expected sections {', '.join(SECTIONS)}"])
        for key_node, value_node in root.value:
            key = self.text(key_node)
            if key == "defaults":
                mapping.defaults = self.choices(value_node, "defaults", company_allowed=False)
            elif key in ("clients", "devices"):
                self.entries(value_node, key, getattr(mapping, key))
            else:
                self.problem(key_node, f"{key}: unknown section (expected {', '.join(SECTIONS)})")
        if self.problems:
            raise MappingFileError(self.problems)
        return mapping

    def text(self, node: Node) -> str:
        value = self.value(node)
        return "" if value is None else str(value)

    def value(self, node: Node) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except ConstructorError as error:
            self.problem(node, str(error.problem or error))
            return None

    def entries(self, node: Node, section: str, into: dict[str, Choices]) -> None:
        if isinstance(node, ScalarNode) and self.value(node) is None:
            return
        if not isinstance(node, MappingNode):
            self.problem(
                node,
                f"{section}: expected a mapping of {'serials' if section == 'devices' else 'client names'} to choices",
            )
            return
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                kind = "number" if isinstance(key, int | float) else type(key).__name__
                self.problem(key_node, f"{section}: {key!r} was read as a {kind}: put it in quotes")
                continue
            name = key.strip().upper() if section == "devices" else normal_name(key)
            if not name:
                self.problem(key_node, f"{section}: an empty key")
                continue
            if name in into:
                self.problem(key_node, f'{section}: "{key}" is listed twice')
                continue
            into[name] = self.choices(value_node, f'{section}: "{key}"', company_allowed=True)

    def choices(self, node: Node, where: str, *, company_allowed: bool) -> Choices:
        origin = f"{self.path}:{node.start_mark.line + 1}"
        if isinstance(node, ScalarNode) and self.value(node) == "skip":
            return Choices(skip=True, origin=origin)
        if not isinstance(node, MappingNode):
            self.problem(node, f"{where}: expected a mapping of choices ({', '.join(KEYS)}) or skip")
            return Choices(origin=origin)
        values: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.text(key_node)
            if key not in KEYS:
                self.problem(key_node, f"{where}: {key}: unknown choice (expected one of {', '.join(KEYS)})")
            elif key == "company" and not company_allowed:
                self.problem(
                    key_node, f"{where}: company: the defaults choose no company (map it per client or serial)"
                )
            elif key == "routing":
                values.update(self.routing(value_node, where))
            elif key == "skip":
                skip = self.value(value_node)
                if not isinstance(skip, bool):
                    self.problem(value_node, f"{where}: skip: expected true or false, got {skip!r}")
                values["skip"] = skip is True
            else:
                text = self.choice_text(value_node, f"{where}: {key}", key)
                for name in ("device_type", "agent_type") if key == "type" else (KEYS[key],):
                    values[name] = text
        return replace(Choices(**values), origin=origin)

    def choice_text(self, node: Node, where: str, key: str) -> str | None:
        value = self.value(node)
        optional = key in OPTIONAL or key == "type"
        if value is None or (isinstance(value, str) and value.strip().casefold() == "none"):
            if not optional:
                self.problem(node, f"{where}: a value is required here (none is not allowed)")
                return None
            return ""
        if isinstance(value, bool):
            self.problem(node, f"{where}: {value!r} was read as true/false: put the name in quotes")
            return None
        if isinstance(value, dict | list):
            self.problem(node, f"{where}: expected a name, got a {'mapping' if isinstance(value, dict) else 'list'}")
            return None
        text = str(value).strip()
        if not text:
            self.problem(node, f"{where}: an empty name")
            return None
        return text

    def routing(self, node: Node, where: str) -> dict[str, str]:
        if not isinstance(node, MappingNode):
            self.problem(node, f"{where}: routing: expected {{device: ROUTE, agent: ROUTE}}")
            return {}
        routes: dict[str, str] = {}
        for key_node, value_node in node.value:
            kind = self.text(key_node)
            route = self.text(value_node).strip().lower()
            if kind not in ("device", "agent"):
                self.problem(key_node, f"{where}: routing: {kind}: unknown alert kind (expected device or agent)")
            elif route not in ROUTES:
                self.problem(value_node, f"{where}: routing: {kind}: {route!r} is not one of {', '.join(ROUTES)}")
            else:
                routes[f"{kind}_route"] = route
        return routes
