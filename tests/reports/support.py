"""Builders for the reports tests: patients of a chosen sex or stated gender, and two small
fixed data sets written through the real services — certificates for the sick-leave statistics,
treatments, consents and contacts for the quarterly report. Every figure the tests expect is
worked out by hand from these data sets (see the comments next to each record)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, time

import time_machine

from coordinator.access import Actor
from coordinator.auth.models import ProviderType
from coordinator.consents.models import ConsentKind
from coordinator.contacts import service as contacts
from coordinator.contacts.models import ContactEvent, Initiator, Organisation, OrganisationType
from coordinator.patients import service as patients
from coordinator.patients.models import Gender, Patient
from coordinator.plans import treatments
from coordinator.plans.models import Treatment, TreatmentKind, TreatmentProvider
from coordinator.plans.treatments import TreatmentInput
from tests.consents.support import give
from tests.contacts.support import contact_input, organisation
from tests.patients.support import NOW, at, certify, personnummer

_serials = itertools.count()


def number(*, man: bool) -> str:
    """A valid personnummer of a man or a woman (born 1985; the serial's last digit, the
    number's ninth, is odd for men). Serials run from 100 to 999 and then start over: each
    test has a database of its own, so numbers need only differ within one test."""
    serial = 100 + (2 * next(_serials)) % 900 + (1 if man else 0)
    return personnummer("19850505", serial)


def patient(
    actor: Actor,
    last_name: str,
    first_name: str = "Test",
    *,
    man: bool = False,
    gender: Gender | None = None,
) -> Patient:
    """A patient registered in ``actor``'s unit: legally a man or a woman, with a stated
    gender if ``gender`` is given."""
    details = patients.PatientDetails(first_name, last_name, stated_gender=gender)
    return patients.register_patient(actor, number(man=man), details)


def treat(
    actor: Actor,
    who: Patient,
    kind: TreatmentKind,
    started_on: date | None,
    completed_on: date | None = None,
    *,
    sessions: int | None = None,
    provider: TreatmentProvider = TreatmentProvider.OWN_UNIT,
    provider_type: ProviderType = ProviderType.PUBLIC,
) -> Treatment:
    """A treatment recorded now on ``who``'s open case."""
    entry = TreatmentInput(kind, provider, provider_type, started_on, completed_on, sessions)
    return treatments.record(actor, who, entry)


def call(
    actor: Actor,
    who: Patient,
    with_: Organisation,
    on: date,
    at_time: time = time(10),
    initiated_by: Initiator = Initiator.CARE,
) -> ContactEvent:
    """A phone call about ``who`` on ``on`` (Swedish time), logged now."""
    entry = contact_input(with_, occurred_on=on, occurred_time=at_time, initiated_by=initiated_by)
    return contacts.log_contact(actor, who, entry)


# -- The sick-leave data set ------------------------------------------------------------------

#: The period most statistics tests ask for: May 2026.
MAY = (date(2026, 5, 1), date(2026, 5, 31))
#: June 2026, after Anna's second certificate has started.
JUNE = (date(2026, 6, 1), date(2026, 6, 30))


@dataclass(frozen=True)
class SickLeaveData:
    anna: Patient
    bo: Patient
    cia: Patient
    dan: Patient
    eli: Patient
    fia: Patient
    gus: Patient
    #: Unit B's patient.
    stina: Patient


def sick_leave_data(me: Actor, me_b: Actor) -> SickLeaveData:
    """Seven patients of unit A and one of unit B with their certificates.

    In May (reference day 31 May unless the case ended before):

    ======  ======  =====================================  ======  ====  =======  ========
    who     gender  case                                   length  deg.  code     doctor
    ======  ======  =====================================  ======  ====  =======  ========
    Anna    woman   20 Apr–31 May F43.2 50 %, then         42      50    F43.2    Dr Berg
                    3–30 Jun M54.5 100 % (2-day gap)
    Bo      man     31 May–20 Jun M54.5 100 %              1       100   M54.5    Dr Berg
    Cia     woman   1–10 Apr I10 25 %, 16 Apr–5 May        30      75    I10      Dr Ek
                    I10 75 % (5-day gap: one case)
    Dan     man     1–24 Apr F32.1 100 % (its own case:    10      50    F32.1    (none)
                    6-day gap), 1–10 May F32.1 50 %
    Eli     other   1 May 2025–31 Aug 2026 F41.1 75 %      396     75    F41.1    Dr Ek
    Fia     woman   1–30 Apr K58 100 %: ends before May    –
    Gus     man     1–10 Jun M79.7 100 %: starts after     –
    Stina   woman   (unit B) 1–31 May F43.2 100 %          31      100   F43.2    Dr Berg
    ======  ======  =====================================  ======  ====  =======  ========
    """
    anna = patient(me, "Andersson", "Anna")
    certify(me, anna, date(2026, 4, 20), date(2026, 5, 31), 50, "F43.2", doctor="Dr Berg")
    certify(me, anna, date(2026, 6, 3), date(2026, 6, 30), 100, "M54.5", doctor="Dr Dahl")
    bo = patient(me, "Berg", "Bo", man=True)
    certify(me, bo, date(2026, 5, 31), date(2026, 6, 20), 100, "M54.5", doctor="Dr Berg")
    cia = patient(me, "Carlsson", "Cia")
    certify(me, cia, date(2026, 4, 1), date(2026, 4, 10), 25, "I10", doctor="Dr Ask")
    certify(me, cia, date(2026, 4, 16), date(2026, 5, 5), 75, "I10", doctor="Dr Ek")
    dan = patient(me, "Dahl", "Dan", man=True)
    certify(me, dan, date(2026, 4, 1), date(2026, 4, 24), 100, "F32.1", doctor="Dr Ask")
    certify(me, dan, date(2026, 5, 1), date(2026, 5, 10), 50, "F32.1")
    eli = patient(me, "Ek", "Eli", gender=Gender.OTHER)
    certify(me, eli, date(2025, 5, 1), date(2026, 8, 31), 75, "F41.1", doctor="Dr Ek")
    fia = patient(me, "Fors", "Fia")
    certify(me, fia, date(2026, 4, 1), date(2026, 4, 30), 100, "K58", doctor="Dr Ask")
    gus = patient(me, "Gran", "Gus", man=True)
    certify(me, gus, date(2026, 6, 1), date(2026, 6, 10), 100, "M79.7", doctor="Dr Ask")
    stina = patient(me_b, "Svensson", "Stina")
    certify(me_b, stina, date(2026, 5, 1), date(2026, 5, 31), 100, "F43.2", doctor="Dr Berg")
    return SickLeaveData(anna, bo, cia, dan, eli, fia, gus, stina)


# -- The quarterly data set ---------------------------------------------------------------------

#: Where the clock stands when the March treatment is recorded (Q1 2026).
IN_MARCH = at(date(2026, 3, 25))


@dataclass(frozen=True)
class QuarterData:
    anna: Patient
    bo: Patient
    dan: Patient
    eli: Patient
    #: Unit B's patient.
    stina: Patient
    treatments: dict[str, Treatment]
    contacts: dict[str, ContactEvent]


def quarter_data(me: Actor, me_b: Actor, clock: time_machine.Traveller) -> QuarterData:
    """Four patients of unit A (Anna a woman, Bo and Dan men, Eli of stated gender other) and
    one of unit B (Stina, a woman): what they were treated with and the contacts about them.

    Recorded on 25 March (Q1), the clock then moved back to 15 June (Q2):

    - ``psych_march``: Eli, other psychological treatment, no dates at all.

    Recorded on 15 June:

    - ``mmr1_done``: Anna, MMR1 at the unit (public), 2 Mar–20 May — counts in Q2;
    - ``kbt_done``: Bo, KBT at the unit (public), 1 Apr–1 Jun, 12 sessions — counts;
    - ``ikbt_private``: Eli, IKBT at a private provider, 10 Apr–10 Jun — counts;
    - ``kbt_short``: Bo, KBT, 15 Apr–5 Jun, 9 sessions — too few: reconciliation;
    - ``pdt_open``: Anna, PDT at another unit, from 1 May, not completed — reconciliation;
    - ``emdr_q1``: Anna, EMDR, 1 Feb–20 Mar — counts in Q1, listed in Q2's reconciliation;
    - ``mmr2_b``: Stina (unit B), MMR2 at another unit (public), 1 Apr–1 Jun — counts for B.

    Consents: Anna to employers from 1 May, Bo to Arbetsförmedlingen from 1 May, Stina to
    employers from 1 April; Dan none. Contacts (care-initiated phone calls unless said):

    - ``anna_q1``: ACME AB, 31 Mar 23:30 (Q1): no consent yet;
    - ``anna_before_consent``: ACME AB, 1 Apr 00:30 (Q2): no consent yet;
    - ``anna_employer``: ACME AB, 10 May: reimbursable;
    - ``anna_external``: ACME AB, 12 May, initiated by the employer: not reimbursable;
    - ``dan_untreated``: ACME AB, 15 May: no consent and no treatment;
    - ``bo_af``: Arbetsförmedlingen, 20 May: reimbursable;
    - ``bo_af_patient``: Arbetsförmedlingen, 2 Jun, initiated by Bo: not reimbursable;
    - ``bo_fk``: Försäkringskassan, 20 May, and ``anna_other``: an "other" organisation,
      3 Jun — neither is an employer or Arbetsförmedlingen, so not in the report;
    - ``stina_employer``: ACME AB, 5 May (unit B): reimbursable.
    """
    clock.move_to(IN_MARCH)
    anna = patient(me, "Andersson", "Anna")
    bo = patient(me, "Berg", "Bo", man=True)
    dan = patient(me, "Dahl", "Dan", man=True)
    eli = patient(me, "Ek", "Eli", gender=Gender.OTHER)
    stina = patient(me_b, "Svensson", "Stina")
    done = {"psych_march": treat(me, eli, TreatmentKind.OTHER_PSYCHOLOGICAL, None)}
    clock.move_to(NOW)

    kinds = TreatmentKind
    done |= {
        "mmr1_done": treat(me, anna, kinds.MMR1, date(2026, 3, 2), date(2026, 5, 20)),
        "kbt_done": treat(me, bo, kinds.KBT, date(2026, 4, 1), date(2026, 6, 1), sessions=12),
        "ikbt_private": treat(
            me, eli, kinds.IKBT, date(2026, 4, 10), date(2026, 6, 10),
            provider=TreatmentProvider.PRIVATE_PROVIDER, provider_type=ProviderType.PRIVATE,
        ),
        "kbt_short": treat(me, bo, kinds.KBT, date(2026, 4, 15), date(2026, 6, 5), sessions=9),
        "pdt_open": treat(
            me, anna, kinds.PDT, date(2026, 5, 1), provider=TreatmentProvider.OTHER_UNIT
        ),
        "emdr_q1": treat(me, anna, kinds.EMDR, date(2026, 2, 1), date(2026, 3, 20)),
        "mmr2_b": treat(
            me_b, stina, kinds.MMR2, date(2026, 4, 1), date(2026, 6, 1),
            provider=TreatmentProvider.OTHER_UNIT,
        ),
    }  # fmt: skip

    give(me, anna, ConsentKind.EMPLOYER, date(2026, 5, 1))
    give(me, bo, ConsentKind.EMPLOYMENT_SERVICE, date(2026, 5, 1))
    give(me_b, stina, ConsentKind.EMPLOYER, date(2026, 4, 1))

    acme = organisation(me)
    af = organisation(me, OrganisationType.EMPLOYMENT_SERVICE, "Arbetsförmedlingen Jönköping")
    fk = organisation(me, OrganisationType.SOCIAL_INSURANCE, "Försäkringskassan")
    club = organisation(me, OrganisationType.OTHER, "Friskvårdsföreningen")
    logged = {
        "anna_q1": call(me, anna, acme, date(2026, 3, 31), time(23, 30)),
        "anna_before_consent": call(me, anna, acme, date(2026, 4, 1), time(0, 30)),
        "anna_employer": call(me, anna, acme, date(2026, 5, 10)),
        "anna_external": call(me, anna, acme, date(2026, 5, 12), initiated_by=Initiator.EXTERNAL),
        "dan_untreated": call(me, dan, acme, date(2026, 5, 15)),
        "bo_af": call(me, bo, af, date(2026, 5, 20)),
        "bo_af_patient": call(me, bo, af, date(2026, 6, 2), initiated_by=Initiator.PATIENT),
        "bo_fk": call(me, bo, fk, date(2026, 5, 20)),
        "anna_other": call(me, anna, club, date(2026, 6, 3)),
        "stina_employer": call(me_b, stina, acme, date(2026, 5, 5)),
    }
    return QuarterData(anna, bo, dan, eli, stina, done, logged)
