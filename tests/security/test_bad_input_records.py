"""Bad input at scale, the record's other forms through the app, as coordinator A of unit A:
consents (record, withdraw, disclose, print), the directory (organisations and their people),
the contact log and the patient's employer, the mapping, the plan (edit, agree, follow up,
progress, share) and treatments.

Every text field gets any Unicode and lengths around its limit; date, number and choice
fields get what people and programs type. A value is either stored exactly (stripped; an
empty purpose becomes the kind's standard one) and read back decrypted through the services,
or refused with a message and nothing written; never a 500. Fields kept in the clear — an
organisation's name and address — refuse control characters (PostgreSQL cannot store NUL)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from coordinator.access import Actor
from coordinator.auth.models import ProviderType
from coordinator.consents import service as consents
from coordinator.consents.models import Consent, ConsentKind
from coordinator.consents.service import NAME_MAX, NOTE_MAX, PURPOSE_MAX, SUMMARY_MAX
from coordinator.contacts import directory
from coordinator.contacts import service as contacts
from coordinator.contacts.models import Organisation, OrganisationType
from coordinator.extensions import db
from coordinator.i18n import in_record_language
from coordinator.patients import cases
from coordinator.patients import service as patients
from coordinator.patients.identity import normalise_name
from coordinator.patients.models import Patient
from coordinator.plans import mapping, service, treatments
from coordinator.plans.mapping import SECTION_MAX
from coordinator.plans.models import (
    MAPPING_SECTIONS,
    RehabPlan,
    TreatmentKind,
    TreatmentProvider,
)
from tests.conftest import World
from tests.consents.support import give
from tests.contacts.support import organisation, person
from tests.helpers import field_errors
from tests.patients.conftest import frozen  # noqa: F401 (the stopped clock, by name below)
from tests.patients.support import TODAY, activate, register
from tests.plans.support import agreed_plan, day, plan_input
from tests.security.bad_input import (
    EMAILS,
    PHONES,
    SAMPLE,
    FormCase,
    OddCase,
    Session,
    TextField,
    formatted,
    try_every_form,
    try_odd_values,
)

pytestmark = pytest.mark.usefixtures("frozen")

_names = itertools.count(1)


def _patient(actor: Actor, uid: str) -> Patient:
    return patients.get_patient(actor, uuid.UUID(uid), log=False)


def _plan(actor: Actor, uid: str) -> RehabPlan:
    plan = service.plan_of(cases.current_case(_patient(actor, uid)))
    assert plan is not None
    return plan


def _last(rows: list[Any], **fields: Callable[[Any], Any]) -> dict[str, Any]:
    """How many ``rows`` there are and, of the one with the highest id, each of ``fields``."""
    last = max(rows, key=lambda row: row.id, default=None)
    values = {name: read(last) if last is not None else None for name, read in fields.items()}
    return {"count": len(rows), **values}


def _attributes(*names: str) -> dict[str, Callable[[Any], Any]]:
    return {name: lambda row, name=name: getattr(row, name) for name in names}


def _a_pdf(_values: dict[str, str], response: TestResponse) -> None:
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")


class Coordinator(Session):
    def make(self, build: Callable[[Actor], Any]) -> Any:
        """``build`` run as coordinator A, and committed."""

        def run(actor: Actor) -> Any:
            made = build(actor)
            db.session.commit()
            return made

        return self.read(run)

    def active_patient(self, *, plan: str = "") -> str:
        """A patient in active coordination, with a plan (``"draft"`` or ``"agreed"``), who has
        consented to disclosures to the employer; their uid."""

        def build(actor: Actor) -> str:
            patient = register(actor, f"Planberg{next(_names)}")
            activate(actor, patient)
            give(actor, patient, ConsentKind.EMPLOYER, day(-30))
            if plan == "draft":
                service.save(actor, patient, plan_input())
            elif plan == "agreed":
                agreed_plan(actor, patient)
            return str(patient.uid)

        return str(self.make(build))


@pytest.fixture
def me(app: Flask, world: World, coordinator_client: FlaskClient) -> Coordinator:
    return Coordinator(app, coordinator_client, world.coordinator_a, world.unit_a)


# -- Consents ------------------------------------------------------------------------------------

#: Names of agencies: refused as the named recipient of another kind's consent.
_AGENCY_NAMES = {"försäkringskassan", "fk", "arbetsförmedlingen", "af"}
_GIVEN = {"kind": "employer", "answer": "given", "method": "oral", "given_on": TODAY.isoformat(),
          "valid_until": ""}  # fmt: skip


def _standard_purpose(_actor: Actor) -> str:
    with in_record_language():
        return ConsentKind.EMPLOYER.default_purpose


def _consent_forms(me: Coordinator, uid: str) -> list[FormCase]:
    standard = me.read(_standard_purpose)
    consent = [TextField("recipient_name", NAME_MAX),
               TextField("purpose", PURPOSE_MAX, empty=standard),
               TextField("form_reference", NAME_MAX), TextField("note", NOTE_MAX)]  # fmt: skip
    state: dict[str, str] = {}

    def a_consent_to_withdraw() -> None:
        state["consent"] = me.make(
            lambda a: str(give(a, _patient(a, uid), ConsentKind.EMPLOYER, day(-10)).uid)
        )

    def withdrawal(_actor: Actor) -> dict[str, Any]:
        found = db.session.scalars(
            select(Consent).where(Consent.uid == uuid.UUID(state["consent"]))
        ).one()
        return {"note": found.withdrawal.note if found.withdrawal else "not withdrawn"}

    def records(actor: Actor) -> dict[str, Any]:
        fields = _attributes(*(f.name for f in consent))
        return _last(consents.records_of(_patient(actor, uid)), **fields)

    def disclosures(actor: Actor) -> dict[str, Any]:
        fields = _attributes("recipient_name", "summary")
        return _last(consents.disclosures_of(_patient(actor, uid)), **fields)

    return [
        FormCase(
            "consent", consent,
            post=lambda values: me.post(f"/patients/{uid}/consents/new", {**_GIVEN, **values}),
            read=lambda: me.read(records),
            uncertain=lambda v: frozenset({"recipient_name"})
            if normalise_name(v["recipient_name"]) in _AGENCY_NAMES else frozenset(),
        ),
        FormCase(
            "withdraw", [TextField("note", NOTE_MAX)], prepare=a_consent_to_withdraw,
            post=lambda values: me.post(
                f"/patients/{uid}/consents/{state['consent']}/withdraw",
                {"withdrawn_on": TODAY.isoformat(), **values}),
            read=lambda: me.read(withdrawal),
        ),
        FormCase(
            "disclose", [TextField("recipient_name", NAME_MAX),
                         TextField("summary", SUMMARY_MAX, required=True)],
            post=lambda values: me.post(f"/patients/{uid}/disclosures/new",
                                        {"recipient": "employer",
                                         "disclosed_on": TODAY.isoformat(), **values}),
            read=lambda: me.read(disclosures),
        ),
        FormCase(
            "print a consent form", consent[:2],
            post=lambda values: me.post(f"/patients/{uid}/consents/form",
                                        {"kind": "employer", **values}),
            read=lambda: me.read(records), accepted_status=(200,), stores=False, then=_a_pdf,
        ),
    ]  # fmt: skip


def test_the_consent_forms_store_any_text_exactly_or_refuse_it_with_a_message(
    me: Coordinator,
) -> None:
    try_every_form(_consent_forms(me, me.active_patient()), examples=10)


# -- The directory and the contact log -----------------------------------------------------------

ORGANISATION = [
    TextField("name", directory.NAME_MAX, required=True, plain=True),
    TextField(
        "org_number",
        20,
        sample=" 5560360793 ",
        values=formatted(20, "202100-5521", "556036-0793", "5560360793"),
    ),
    TextField("address", directory.ADDRESS_MAX, plain=True),
    TextField("phone", directory.PHONE_MAX, plain=True, values=PHONES, sample=" 036-10 10 10 "),
    TextField("notes", directory.NOTES_MAX),
]
PERSON = [
    TextField("name", directory.NAME_MAX, required=True),
    TextField("role", directory.ROLE_MAX),
    TextField("phone", directory.PHONE_MAX, values=PHONES, sample="+46 70 123 45 67"),
    TextField("email", directory.EMAIL_MAX, values=EMAILS, sample="lena.ek@acme.se"),
]
CONTACT = [
    TextField("notes", contacts.NOTES_MAX),
    TextField("disclosed", SUMMARY_MAX, required=True),  # "information was disclosed" ticked
    TextField("next_step", contacts.NEXT_STEP_MAX),
    TextField("new_person_name", directory.NAME_MAX),
    TextField("new_person_role", directory.ROLE_MAX),
    TextField("new_person_phone", directory.PHONE_MAX, values=PHONES, sample="036-10 10 10"),
]


def _organisation(uid: str) -> Organisation:
    return directory.get_organisation(uuid.UUID(uid))


def _organisation_fields(found: Organisation) -> dict[str, Any]:
    return {f.name: getattr(found, f.name) for f in ORGANISATION}


class _Names:
    """The organisation names in the directory (but one): a new or renamed organisation with
    one of them (and the same number) is refused as a duplicate."""

    def __init__(self, me: Coordinator, but: str = "") -> None:
        self.me, self.but, self.taken = me, but, set[str]()

    def look(self) -> None:
        statement = select(Organisation.name_key)
        if self.but:
            statement = statement.where(Organisation.uid != uuid.UUID(self.but))
        self.taken = set(self.me.read(lambda _a: list(db.session.scalars(statement))))

    def uncertain(self, values: Mapping[str, str]) -> frozenset[str]:
        """Number and phone have rules of their own; a taken name may be a duplicate."""
        duplicate = normalise_name(values["name"]) in self.taken
        return frozenset({"org_number", "phone", *(["name"] if duplicate else [])})


def _directory_forms(me: Coordinator, edited: str, employer: str) -> list[FormCase]:
    new_names, other_names = _Names(me), _Names(me, but=edited)
    # Its own sample name: the new organisation's sample (same number) would be a duplicate.
    renamed = [replace(ORGANISATION[0], sample=f"Redigerad {SAMPLE}"), *ORGANISATION[1:]]
    someone = me.make(lambda a: str(person(a, _organisation(employer)).uid))

    def newest_organisation(_actor: Actor) -> dict[str, Any]:
        count = db.session.scalar(select(func.count(Organisation.id)))
        last = db.session.scalars(select(Organisation).order_by(Organisation.id.desc())).first()
        assert last is not None
        return {"count": count, **_organisation_fields(_organisation(str(last.uid)))}

    def people(which: str) -> Callable[[Actor], dict[str, Any]]:
        def read(_actor: Actor) -> dict[str, Any]:
            found = [p for p in _organisation(employer).persons if which in ("", str(p.uid))]
            return _last(found, **_attributes(*(f.name for f in PERSON)))

        return read

    def organisation_form(values: dict[str, str]) -> dict[str, str]:
        return {"type": "other", **values}

    return [
        FormCase("new organisation", ORGANISATION, prepare=new_names.look,
                 post=lambda values: me.post("/directory/new", organisation_form(values)),
                 read=lambda: me.read(newest_organisation), uncertain=new_names.uncertain),
        FormCase("edit organisation", renamed, prepare=other_names.look,
                 post=lambda values: me.post(f"/directory/{edited}/edit",
                                             organisation_form(values)),
                 read=lambda: me.read(lambda _a: _organisation_fields(_organisation(edited))),
                 uncertain=other_names.uncertain),
        FormCase("new person", PERSON,
                 post=lambda values: me.post(f"/directory/{employer}/persons", values),
                 read=lambda: me.read(people("")),
                 uncertain=lambda _v: frozenset({"phone", "email"})),
        FormCase("edit person", PERSON,
                 post=lambda values: me.post(f"/directory/{employer}/persons/{someone}",
                                             {**values, "left_on": ""}),
                 read=lambda: me.read(people(someone)),
                 uncertain=lambda _v: frozenset({"phone", "email"})),
    ]  # fmt: skip


_CONTACT = {"person": "", "occurred_on": TODAY.isoformat(), "occurred_time": "",
            "channel": "phone", "kind": "information", "initiated_by": "care",
            "is_disclosure": "y", "measure": "", "next_step_on": ""}  # fmt: skip


def _contact_form(me: Coordinator, uid: str, employer: str) -> FormCase:
    chosen = uuid.UUID(employer).hex

    def person_of(name: str) -> Callable[[Any], Any]:
        return lambda contact: getattr(contact.person, name) if contact.person else None

    def logged(actor: Actor) -> dict[str, Any]:
        return _last(
            contacts.contacts_of(_patient(actor, uid)), notes=lambda c: c.notes,
            next_step=lambda c: c.next_step,
            disclosed=lambda c: c.disclosure.summary if c.disclosure else None,
            new_person_name=person_of("name"), new_person_role=person_of("role"),
            new_person_phone=person_of("phone"))  # fmt: skip

    def uncertain(values: Mapping[str, str]) -> frozenset[str]:
        """A phone number has rules of its own; without a name no new person is kept, so
        their role and phone are not either."""
        if not values["new_person_name"].strip():
            return frozenset({"new_person_role", "new_person_phone"})
        return frozenset({"new_person_phone"})

    return FormCase(
        "contact", CONTACT,
        post=lambda values: me.post(f"/patients/{uid}/contacts/new?organisation={chosen}",
                                    {**_CONTACT, "organisation": chosen, **values}),
        read=lambda: me.read(logged), uncertain=uncertain,
    )  # fmt: skip


def test_the_directory_and_contact_forms_store_any_text_exactly_or_refuse_it(
    me: Coordinator,
) -> None:
    uid = me.active_patient()
    employer = me.make(lambda a: str(organisation(a).uid))
    edited = me.make(lambda a: str(organisation(a, OrganisationType.OTHER, "Redigeras AB").uid))
    try_every_form(
        [*_directory_forms(me, edited, employer), _contact_form(me, uid, employer)], examples=10
    )


# -- The mapping, the plan and treatments --------------------------------------------------------

MAPPING = [TextField(name, SECTION_MAX) for name in MAPPING_SECTIONS]
PLAN = [
    TextField("goal_text", service.GOAL_MAX),
    TextField("intermediate_goals", service.GOAL_MAX),
    TextField("measures-0-description", service.DESCRIPTION_MAX),
    TextField("measures-0-actor_name", service.NAME_MAX),
]
_PLAN = {"goal": "own_job", "goal_degree": "100", "starts_on": TODAY.isoformat(),
         "target_on": day(90).isoformat(), "measures-0-actor": "employer",
         "measures-0-status": "planned", "measures-0-uid": "", "measures-0-starts_on": "",
         "measures-0-due_on": ""}  # fmt: skip


def _mapping_form(me: Coordinator, uid: str) -> FormCase:
    def latest(actor: Actor) -> Any:
        return mapping.latest_of(cases.current_case(_patient(actor, uid)))

    def post(values: dict[str, str]) -> TestResponse:
        lock, number = me.read(lambda a: (lambda m: (str(m.lock), str(m.number)) if m
                                          else ("", "0"))(latest(a)))  # fmt: skip
        return me.post(
            f"/patients/{uid}/mapping", {"version": lock, "based_on": number, "save": "y", **values}
        )

    return FormCase(
        "mapping", MAPPING, post=post,
        read=lambda: me.read(lambda a: (lambda m: {f.name: getattr(m, f.name) for f in MAPPING}
                                        if m else {})(latest(a))),
    )  # fmt: skip


def _plan_form(me: Coordinator, uid: str) -> FormCase:
    def post(values: dict[str, str]) -> TestResponse:
        def where(actor: Actor) -> tuple[str, str]:
            plan = service.plan_of(cases.current_case(_patient(actor, uid)))
            return (str(plan.lock), str(plan.latest.number)) if plan else ("", "0")

        lock, number = me.read(where)
        return me.post(
            f"/patients/{uid}/plan/edit", {**_PLAN, "version": lock, "based_on": number, **values}
        )

    def draft(actor: Actor) -> dict[str, Any]:
        plan = service.plan_of(cases.current_case(_patient(actor, uid)))
        if plan is None:
            return {}
        version = plan.latest
        measure = version.measures[0] if version.measures else None
        return {"number": version.number, "lock": plan.lock, "goal_text": version.goal_text,
                "intermediate_goals": version.intermediate_goals,
                "measures-0-description": measure.description if measure else None,
                "measures-0-actor_name": measure.actor_name if measure else None}  # fmt: skip

    def uncertain(values: Mapping[str, str]) -> frozenset[str]:
        """A measure without a description is no measure: its name is not kept."""
        blank = not values["measures-0-description"].strip()
        return frozenset({"measures-0-actor_name"}) if blank else frozenset()

    return FormCase("plan", PLAN, post=post, read=lambda: me.read(draft), uncertain=uncertain)


def _agreement_form(me: Coordinator) -> FormCase:
    state = {"uid": ""}

    def prepare() -> None:
        state["uid"] = me.active_patient(plan="draft")

    def agreed(actor: Actor) -> dict[str, Any]:
        version = _plan(actor, state["uid"]).latest
        return {"agreed_on": version.agreed_on, "note": version.agreement_note}

    return FormCase(
        "agree", [TextField("note", service.NOTES_MAX)], prepare=prepare,
        post=lambda values: me.post(
            f"/patients/{state['uid']}/plan/agree",
            {"number": "1", "agreed_on": TODAY.isoformat(), "method": "meeting",
             "next_follow_up_on": day(14).isoformat(), **values}),
        read=lambda: me.read(agreed),
    )  # fmt: skip


def _agreed_plan_forms(me: Coordinator, uid: str) -> list[FormCase]:
    """Follow-ups, progress on a measure, sharing, and treatments, on one agreed plan."""
    measure, row = me.read(lambda a: (lambda m: (str(m.uid), f"m{m.id}"))(
        _plan(a, uid).current.measures[0]))  # fmt: skip
    kbt = treatments.TreatmentInput(TreatmentKind.KBT, TreatmentProvider.OWN_UNIT,
                                    ProviderType.PUBLIC)  # fmt: skip
    treated = me.make(lambda a: str(treatments.record(a, _patient(a, uid), kbt).uid))

    def follow_ups(actor: Actor) -> dict[str, Any]:
        return _last(service.follow_ups_of(_plan(actor, uid)), notes=lambda f: f.notes)

    def outcome(actor: Actor) -> dict[str, Any]:
        found = next(m for m in _plan(actor, uid).current.measures if str(m.uid) == measure)
        return {"outcome": found.outcome, "status": found.status}

    def shared(actor: Actor) -> dict[str, Any]:
        return _last(
            consents.disclosures_of(_patient(actor, uid)), recipient_name=lambda d: d.recipient_name
        )

    def recorded(which: str) -> Callable[[Actor], dict[str, Any]]:
        def read(actor: Actor) -> dict[str, Any]:
            found = [t for t in treatments.treatments_of(_patient(actor, uid))
                     if which in ("", str(t.uid))]  # fmt: skip
            return _last(found, note=lambda t: t.note)

        return read

    treatment = {"kind": "kbt", "provider": "own_unit", "provider_type": "public",
                 "sessions": "", "started_on": "", "completed_on": ""}  # fmt: skip
    note = [TextField("note", treatments.NOTE_MAX)]
    return [
        FormCase("follow-up", [TextField("notes", service.NOTES_MAX, required=True)],
                 post=lambda values: me.post(f"/patients/{uid}/plan/follow-ups",
                                             {"held_on": TODAY.isoformat(),
                                              "next_on": day(14).isoformat(), **values}),
                 read=lambda: me.read(follow_ups)),
        FormCase("progress", [TextField("outcome", service.OUTCOME_MAX)],
                 post=lambda values: me.post(
                     f"/patients/{uid}/plan/measures/{measure}?prefix={row}",
                     {f"{row}-status": "ongoing", f"{row}-outcome": values["outcome"]}),
                 read=lambda: me.read(outcome), error_ids={"outcome": f"{row}-outcome"}),
        FormCase("share", [TextField("recipient_name", service.NAME_MAX)],
                 post=lambda values: me.post(f"/patients/{uid}/plan/share",
                                             {"recipient": "employer",
                                              "shared_on": TODAY.isoformat(), **values}),
                 read=lambda: me.read(shared), accepted_status=(200,), then=_a_pdf),
        FormCase("new treatment", note,
                 post=lambda values: me.post(f"/patients/{uid}/treatments/new",
                                             {**treatment, **values}),
                 read=lambda: me.read(recorded(""))),
        FormCase("edit treatment", note,
                 post=lambda values: me.post(f"/patients/{uid}/treatments/{treated}",
                                             {**treatment, **values}),
                 read=lambda: me.read(recorded(treated))),
    ]  # fmt: skip


def test_the_plan_forms_store_any_text_exactly_or_refuse_it_with_a_message(
    me: Coordinator,
) -> None:
    try_every_form(
        [
            _mapping_form(me, me.active_patient()),
            _plan_form(me, me.active_patient()),
            _agreement_form(me),
            *_agreed_plan_forms(me, me.active_patient(plan="agreed")),
        ],
        examples=8,
    )


# -- Dates, numbers and choices ------------------------------------------------------------------


def _counts(me: Coordinator, uid: str) -> Callable[[], tuple[int, ...]]:
    """How many consents, withdrawals, disclosures, contacts, follow-ups and treatments the
    patient has, the plan's lock and the employer: what the forms below could change."""

    def read(actor: Actor) -> tuple[int, ...]:
        patient = _patient(actor, uid)
        plan = service.plan_of(cases.current_case(patient))
        records = consents.records_of(patient)
        return (len(records), sum(1 for c in records if c.withdrawal),
                len(consents.disclosures_of(patient)), len(contacts.contacts_of(patient)),
                len(service.follow_ups_of(plan)) if plan else -1, plan.lock if plan else -1,
                len(treatments.treatments_of(patient)), patient.employer_id or 0)  # fmt: skip

    return lambda: tuple(me.read(read))


def _current(me: Coordinator, uid: str, values: dict[str, str], what: str) -> dict[str, str]:
    """``values`` with the version and based-on fields the edit page would carry, where the
    drawn ones are the valid placeholder ``"current"``."""

    def where(actor: Actor) -> tuple[str, str]:
        case = cases.current_case(_patient(actor, uid))
        found = mapping.latest_of(case) if what == "mapping" else service.plan_of(case)
        if found is None:
            return "", "0"
        number = found.number if what == "mapping" else found.latest.number
        return str(found.lock), str(number)

    lock, number = me.read(where)
    replaced = {"version": lock, "based_on": number}
    return {k: replaced[k] if v == "current" and k in replaced else v for k, v in values.items()}


def test_the_record_forms_take_any_date_number_or_choice_without_a_server_error(
    me: Coordinator,
) -> None:
    uid = me.active_patient(plan="agreed")
    employer = me.make(lambda a: str(organisation(a).uid))
    chosen = uuid.UUID(employer).hex
    someone = me.make(lambda a: str(person(a, _organisation(employer)).uid))
    measure, row = me.read(lambda a: (lambda m: (str(m.uid), f"m{m.id}"))(
        _plan(a, uid).current.measures[0]))  # fmt: skip
    counts = _counts(me, uid)
    state: dict[str, str] = {}

    def a_consent_to_withdraw() -> None:
        state["consent"] = me.make(
            lambda a: str(give(a, _patient(a, uid), ConsentKind.EMPLOYER, day(-10)).uid)
        )

    def a_draft_plan() -> None:
        state["draft"] = me.active_patient(plan="draft")

    def post(path: str, rest: dict[str, str]) -> Callable[[dict[str, str]], TestResponse]:
        return lambda values: me.post(f"/patients/{uid}/{path}", {**rest, **values})

    today, ahead = TODAY.isoformat(), day(14).isoformat()
    sections = {name: "Inget att notera." for name in MAPPING_SECTIONS}
    try_odd_values(
        [
            OddCase("consent", {"kind": "employer", "answer": "given", "method": "oral",
                                "given_on": today, "valid_until": ""},
                    post=post("consents/new", {}), read=counts),
            OddCase("withdraw", {"withdrawn_on": today}, prepare=a_consent_to_withdraw,
                    post=lambda values: me.post(
                        f"/patients/{uid}/consents/{state['consent']}/withdraw", values),
                    read=counts),
            OddCase("disclose", {"recipient": "employer", "disclosed_on": today},
                    post=post("disclosures/new", {"summary": "Sjukskrivningens längd."}),
                    read=counts),
            OddCase("print a consent form", {"kind": "employer"},
                    post=post("consents/form", {}), read=counts),
            OddCase("contact", {"organisation": chosen, "person": "", "occurred_on": today,
                                "occurred_time": "", "channel": "phone", "kind": "information",
                                "initiated_by": "care", "measure": "", "next_step_on": ahead},
                    post=lambda values: me.post(
                        f"/patients/{uid}/contacts/new?organisation={chosen}",
                        {"notes": "Ringde HR.", "next_step": "Ring tillbaka.", **values}),
                    read=counts),
            OddCase("employer", {"organisation": chosen, "manager": ""},
                    hidden=frozenset({"organisation"}), post=post("employer", {}), read=counts),
            OddCase("edit person", {"left_on": ""},
                    post=lambda values: me.post(f"/directory/{employer}/persons/{someone}",
                                                {"name": "Lena Ek", **values}),
                    read=lambda: me.read(lambda _a: [
                        (p.name, p.left_on) for p in _organisation(employer).persons])),
            OddCase("new organisation", {"type": "other"},
                    post=lambda values: me.post("/directory/new", {
                        "name": f"Organisation {next(_names)}", **values}),
                    read=lambda: me.read(lambda _a: db.session.scalar(
                        select(func.count(Organisation.id))))),
            OddCase("mapping", {"belief": "unsure", "version": "current",
                                "based_on": "current"},
                    hidden=frozenset({"version", "based_on"}),
                    post=lambda values: me.post(f"/patients/{uid}/mapping", {
                        **sections, "save": "y", **_current(me, uid, values, "mapping")}),
                    read=lambda: me.read(lambda a: (lambda m: m and (m.lock, m.return_belief))(
                        mapping.latest_of(cases.current_case(_patient(a, uid)))))),
            OddCase("plan", {"goal": "own_job", "goal_degree": "100", "starts_on": today,
                             "target_on": day(90).isoformat(), "measures-0-actor": "employer",
                             "measures-0-status": "planned", "measures-0-starts_on": "",
                             "measures-0-due_on": "", "version": "current",
                             "based_on": "current"},
                    hidden=frozenset({"version", "based_on"}),
                    post=lambda values: me.post(f"/patients/{uid}/plan/edit", {
                        "measures-0-description": "Arbetsplatsbesök.",
                        **_current(me, uid, values, "plan")}),
                    read=counts),
            OddCase("agree", {"number": "1", "agreed_on": today, "method": "meeting",
                              "next_follow_up_on": ahead},
                    hidden=frozenset({"number"}), prepare=a_draft_plan,
                    post=lambda values: me.post(f"/patients/{state['draft']}/plan/agree",
                                                values),
                    read=lambda: _counts(me, state["draft"])()),
            OddCase("follow-up", {"held_on": today, "next_on": ahead},
                    post=post("plan/follow-ups", {"notes": "Går framåt."}), read=counts),
            OddCase("progress", {f"{row}-status": "ongoing"},
                    post=lambda values: me.post(
                        f"/patients/{uid}/plan/measures/{measure}?prefix={row}", values),
                    read=counts),
            OddCase("share", {"recipient": "employer", "shared_on": today},
                    post=post("plan/share", {}), read=counts),
            OddCase("treatment", {"kind": "kbt", "provider": "own_unit",
                                  "provider_type": "public", "sessions": "4",
                                  "started_on": day(-20).isoformat(), "completed_on": ""},
                    post=post("treatments/new", {}), read=counts),
        ],
        examples=4,
    )  # fmt: skip


# -- The bugs these properties found, pinned ----------------------------------------------------

_NUL_REFUSED = "Ta bort de osynliga styrtecknen (till exempel NUL)."


def test_a_nul_in_an_organisations_name_or_address_is_refused_with_a_message(
    me: Coordinator,
) -> None:
    """Kept in the clear: PostgreSQL refused the NUL, and the page was a 500."""
    count = lambda: me.read(lambda _a: db.session.scalar(select(func.count(Organisation.id))))  # noqa: E731
    before = count()

    for field in ("name", "address"):
        values = {"type": "employer", "name": "ACME AB", "address": "Storgatan 1", field: "A\x00B"}
        response = me.post("/directory/new", values)

        assert response.status_code == 400
        assert field_errors(response) == {field: _NUL_REFUSED}
    assert count() == before


def test_a_long_purpose_prints_over_the_page_break(me: Coordinator) -> None:
    """A purpose of many lines (within its 1 000 characters) was taller than a page in the
    form's table row, which could not split: a 500 instead of the form to sign."""
    uid = me.active_patient()

    response = me.post(f"/patients/{uid}/consents/form",
                       {"kind": "employer", "purpose": "Rad.\n" * 199})  # fmt: skip

    assert response.status_code == 200
    assert response.data.startswith(b"%PDF-")


def test_a_too_long_purpose_to_print_is_refused_next_to_the_purpose(me: Coordinator) -> None:
    """The print form's own errors were dropped: the page said nothing of what was wrong."""
    uid = me.active_patient()

    response = me.post(f"/patients/{uid}/consents/form",
                       {"kind": "employer", "purpose": "x" * (PURPOSE_MAX + 1)})  # fmt: skip

    assert response.status_code == 400
    assert field_errors(response) == {"purpose": f"Högst {PURPOSE_MAX} tecken."}


def test_a_refused_outcome_is_shown_at_its_measure_with_the_message(me: Coordinator) -> None:
    """The page showed every measure's blank form: the refusal had no message, the text was
    lost."""
    uid = me.active_patient(plan="agreed")
    measure, row = me.read(lambda a: (lambda m: (str(m.uid), f"m{m.id}"))(
        _plan(a, uid).current.measures[0]))  # fmt: skip
    too_long = "x" * (service.OUTCOME_MAX + 1)

    response = me.post(f"/patients/{uid}/plan/measures/{measure}?prefix={row}",
                       {f"{row}-status": "ongoing", f"{row}-outcome": too_long})  # fmt: skip

    assert response.status_code == 400
    assert field_errors(response) == {f"{row}-outcome": f"Högst {service.OUTCOME_MAX} tecken."}
    assert too_long in response.text  # still in the form
    assert '<details class="measure-progress" open>' in response.text


def test_a_blank_belief_in_the_mapping_is_not_a_choice(me: Coordinator) -> None:
    """A choice of only whitespace passed as no choice made, and then became a 500."""
    uid = me.active_patient()

    response = me.post(f"/patients/{uid}/mapping",
                       {"version": "", "based_on": "0", "save": "y", "belief": " "})  # fmt: skip

    assert response.status_code == 400
    assert set(field_errors(response)) == {"belief"}
