"""The real API's models and list paths (`data/cw-manage-schema.json`, made by derive_schema.py)."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

PATH_IDS = re.compile(r"/\{[^}]+\}")
FieldSpec = dict[str, Any]  # t (type), ref, items, max, req, upd, post, null, enum


@cache
def schema_index() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data/cw-manage-schema.json").read_text()
    return json.loads(text)


def model_fields(model: str) -> dict[str, FieldSpec]:
    """A model's fields by JSON name (`_info` left out), empty for an unknown model."""
    return schema_index()["models"].get(model, {})


def table_of(path: str) -> str:
    """The store table a list path's records live in: `/service/boards/{parentId}/teams` -> `service/boards/teams`."""
    return PATH_IDS.sub("", path.strip("/"))


def collection_path(path: str) -> str:
    """A spec list path as a collection path: no leading or trailing slash."""
    return path.strip("/")


def reference_path(reference_model: str) -> str | None:
    """The list path of the records a `*Reference` model names (None: a plain value such as revenue)."""
    return schema_index()["references"].get(reference_model)


def reference_shape(reference_model: str) -> tuple[str, ...]:
    """What a reference of this model shows beside its id (`PriorityReference`: name, sort, level)."""
    return tuple(name for name in model_fields(reference_model) if name != "id")
