"""Enums whose members carry a translated label: one base instead of a property per enum.

A domain module declares its enums on :class:`Labelled` and hands each enum's labels to
:func:`register` once, beside the enum::

    class Channel(Labelled):
        PHONE = "phone"

    register(Channel, {Channel.PHONE: _l("Phone")})

Labels are kept per enum: members of different enums with the same value (``"phone"`` is a
channel and a way of agreeing to a plan) are equal as strings, so one mapping of members
would silently give both the same label.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

_LABELS: dict[tuple[type, str], object] = {}


class Labelled(StrEnum):
    """An enum whose members have a translated label."""

    @property
    def label(self) -> str:
        return str(_LABELS[type(self), self.value])

    @property
    def lazy_label(self) -> object:
        """The label, translated when the text it is put into is rendered (the journal)."""
        return _LABELS[type(self), self.value]


def register(enum: type[Labelled], labels: Mapping[Labelled, object]) -> None:
    """Give ``enum``'s members their labels (lazy strings, translated when shown); every
    member needs one."""
    if set(labels) != set(enum) or any(type(member) is not enum for member in labels):
        raise ValueError(f"labels of {enum.__name__} must name each of its members once")
    for member, label in labels.items():
        _LABELS[enum, member.value] = label
