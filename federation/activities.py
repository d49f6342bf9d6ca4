"""Pure builders of the outgoing activities about notes and the actor's collections.

Create, Update, Delete (with a Tombstone), Like, Announce, Block, Add and Remove, in the
shapes Mastodon's serializers emit (interop.md 4.5–4.15). Follow, Accept, Reject and Undo live
in ``federation.builders``. Every builder returns a new dict with ``@context`` and never
mutates its arguments.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from federation.builders import isoformat
from federation.parse import as_list
from federation.vocab import ACTIVITY_CONTEXT


def _context_of(obj: Mapping[str, Any]) -> Any:
    """The embedded object's own ``@context`` (it may define extra terms), else the default."""
    context = obj.get("@context")
    return copy.deepcopy(context) if context else list(ACTIVITY_CONTEXT)


def _embedded(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key != "@context"}


def _addresses(value: Any) -> list[str]:
    return [item for item in as_list(value) if isinstance(item, str)]


def build_create(*, activity_id: str, actor: str, note: Mapping[str, Any]) -> dict[str, Any]:
    """A ``Create`` embedding ``note`` without its ``@context`` (hoisted to the activity).

    ``to``, ``cc`` and ``published`` are copied from the note: Mastodon wants the same
    audience on the activity and the object (interop.md 4.10 e).
    """
    doc: dict[str, Any] = {
        "@context": _context_of(note),
        "id": activity_id,
        "type": "Create",
        "actor": actor,
    }
    if "published" in note:
        doc["published"] = note["published"]
    doc["to"] = _addresses(note.get("to"))
    doc["cc"] = _addresses(note.get("cc"))
    doc["object"] = _embedded(note)
    return doc


def build_update(
    *,
    activity_id: str,
    actor: str,
    obj: Mapping[str, Any],
    to: Sequence[str] | None = None,
    cc: Sequence[str] | None = None,
) -> dict[str, Any]:
    """An ``Update`` embedding the whole ``obj`` (a note after an edit, or the actor).

    ``to``/``cc`` default to the object's own (right for notes); for a profile update pass
    them (``to=[Public]``, ``cc=[followers]``). The activity's ``published`` is the object's
    ``updated`` when it has one. A note's ``updated`` must be newer than the last one sent, or
    Mastodon ignores the content change (interop.md 4.12).
    """
    doc: dict[str, Any] = {
        "@context": _context_of(obj),
        "id": activity_id,
        "type": "Update",
        "actor": actor,
    }
    if isinstance(obj.get("updated"), str):
        doc["published"] = obj["updated"]
    for key, given in (("to", to), ("cc", cc)):
        if given is not None:
            doc[key] = list(given)
        elif key in obj:
            doc[key] = _addresses(obj[key])
    doc["object"] = _embedded(obj)
    return doc


def build_tombstone(
    object_id: str, deleted: datetime | None = None, former_type: str = "Note"
) -> dict[str, Any]:
    """The ``Tombstone`` served (with 410 Gone) where a deleted object was."""
    doc: dict[str, Any] = {
        "@context": list(ACTIVITY_CONTEXT),
        "id": object_id,
        "type": "Tombstone",
    }
    if former_type:
        doc["formerType"] = former_type
    if deleted is not None:
        doc["deleted"] = isoformat(deleted)
    return doc


def build_delete(
    *, activity_id: str, actor: str, object_id: str, to: Sequence[str], cc: Sequence[str]
) -> dict[str, Any]:
    """A ``Delete`` whose object is ``{"id": object_id, "type": "Tombstone"}``, as Mastodon's
    DeleteNoteSerializer sends it. For the actor itself use ``object_id=actor``."""
    return {
        "@context": list(ACTIVITY_CONTEXT),
        "id": activity_id,
        "type": "Delete",
        "actor": actor,
        "to": list(to),
        "cc": list(cc),
        "object": {"id": object_id, "type": "Tombstone"},
    }


def build_like(*, activity_id: str, actor: str, object_id: str) -> dict[str, Any]:
    """A ``Like`` of ``object_id``; undo it with ``build_undo`` embedding this activity."""
    return {
        "@context": list(ACTIVITY_CONTEXT),
        "id": activity_id,
        "type": "Like",
        "actor": actor,
        "object": object_id,
    }


def build_announce(
    *,
    activity_id: str,
    actor: str,
    object_id: str,
    to: Sequence[str],
    cc: Sequence[str],
    published: datetime,
) -> dict[str, Any]:
    """An ``Announce`` (boost) of ``object_id``; Mastodon computes its visibility from
    ``to``/``cc`` like a note's, and ``published`` becomes the boost time."""
    return {
        "@context": list(ACTIVITY_CONTEXT),
        "id": activity_id,
        "type": "Announce",
        "actor": actor,
        "published": isoformat(published),
        "to": list(to),
        "cc": list(cc),
        "object": object_id,
    }


def build_block(*, activity_id: str, actor: str, target: str) -> dict[str, Any]:
    """A ``Block`` of ``target``, addressed to it (Mastodon sends blocks to the blocked actor,
    docs spec/activitypub "Remote blocking")."""
    return {
        "@context": list(ACTIVITY_CONTEXT),
        "id": activity_id,
        "type": "Block",
        "actor": actor,
        "object": target,
        "to": [target],
    }


def build_add(*, activity_id: str, actor: str, object_id: str, target: str) -> dict[str, Any]:
    """An ``Add`` of ``object_id`` to the collection ``target`` (a pin: the featured one)."""
    return {
        "@context": list(ACTIVITY_CONTEXT),
        "id": activity_id,
        "type": "Add",
        "actor": actor,
        "object": object_id,
        "target": target,
    }


def build_remove(*, activity_id: str, actor: str, object_id: str, target: str) -> dict[str, Any]:
    """A ``Remove`` of ``object_id`` from the collection ``target`` (an unpin)."""
    return {
        "@context": list(ACTIVITY_CONTEXT),
        "id": activity_id,
        "type": "Remove",
        "actor": actor,
        "object": object_id,
        "target": target,
    }
