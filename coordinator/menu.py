"""The main menu, built from the views' own access rules so it never offers a closed door."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for
from flask_babel import lazy_gettext as _l

from coordinator.access import Actor, is_allowed


@dataclass(frozen=True)
class MenuItem:
    label: str
    url: str
    is_current: bool


#: (endpoint, label, prefix of the endpoints that count as being in this section)
_ENTRIES = (
    ("home.index", _l("Start"), "home."),
    ("patients.index", _l("Patients"), "patients."),
    ("contacts.directory_index", _l("Directory"), "contacts.directory_"),
    ("reports.caseload", _l("Reports"), "reports."),
    ("consents.statistics", _l("Consent statistics"), "consents.statistics"),
    ("logreview.index", _l("Log follow-up"), "log"),
    ("admin.users", _l("Users"), "admin.user"),
    ("admin.units", _l("Care units"), "admin.unit"),
)


def main_menu(actor: Actor | None) -> list[MenuItem]:
    if actor is None:
        return []
    here = request.endpoint or ""
    return [
        MenuItem(label=str(label), url=url_for(endpoint), is_current=here.startswith(prefix))
        for endpoint, label, prefix in _ENTRIES
        if is_allowed(actor, endpoint)
    ]
