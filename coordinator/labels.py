"""Enums whose members carry a translated label: one base instead of a property per enum.

A domain module declares its enums on :class:`Labelled` and hands their labels to
:func:`register` once, beside the enums::

    class Channel(Labelled):
        PHONE = "phone"

    register({Channel.PHONE: _l("Phone")})
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

_LABELS: dict[StrEnum, object] = {}


class Labelled(StrEnum):
    """An enum whose members have a translated label."""

    @property
    def label(self) -> str:
        return str(_LABELS[self])

    @property
    def lazy_label(self) -> object:
        """The label, translated when the text it is put into is rendered (the journal)."""
        return _LABELS[self]


def register(labels: Mapping[StrEnum, object]) -> None:
    """Give members their labels (lazy strings, translated when shown)."""
    _LABELS.update(labels)
