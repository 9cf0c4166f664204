"""The demo caseload: with the hand-written patients of :mod:`coordinator.demo`, sixty fictitious
patients per demo unit in every state a coordinator meets — just sick-listed, nearing day 90 or
180, sick-listed for over a year, recurrent, stepping down to part time, back at work, declined,
transferred, waiting for someone to take them.

Who the patients are and how their sick leave runs is drawn from a seeded generator, so every
installation gets the same people and stories. Only the dates move: certificates are placed
relative to the day the demo is loaded, so the caseload always looks current. Everything is
stored through the real services — encrypted, journalled and access-logged.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache

from coordinator import clock, demo_contacts, demo_plans
from coordinator.access import Actor
from coordinator.auth.models import User
from coordinator.consents.models import ConsentAnswer, ConsentKind, ConsentMethod
from coordinator.consents.service import ConsentInput, record, withdraw
from coordinator.journal import service as journal
from coordinator.journal.models import EntryKind
from coordinator.patients import cases
from coordinator.patients.certificates import CertificateInput, add_certificate
from coordinator.patients.models import CaseOutcome, Employment, Patient, ScreeningDecision
from coordinator.patients.service import PatientDetails, register_patient

# -- Who the patients are -------------------------------------------------------------------
# fmt: off

#: Given names; none shared with the demo staff, so a name on screen is always a patient's.
WOMEN = ("Astrid", "Birgitta", "Elin", "Emma", "Frida", "Hanna", "Ingrid", "Johanna", "Linnea",
         "Maja", "Malin", "Maria", "Matilda", "Sara", "Ulla", "Lena", "Kristina", "Amira",
         "Fatima", "Leyla", "Jelena", "Maryam", "Helena", "Therese", "Camilla", "Gunilla")
MEN = ("Anders", "Björn", "Daniel", "Fredrik", "Gustav", "Henrik", "Johan", "Jonas", "Karl",
       "Lars", "Magnus", "Mats", "Mikael", "Niklas", "Oskar", "Stefan", "Tobias", "Ulf",
       "Viktor", "Ahmed", "Mehmet", "Dragan", "Nikola", "Reza", "Yusuf", "Hassan", "Emil")
#: Family names, made unmistakably fictitious by the "demo" suffix.
FAMILY_NAMES = tuple(f"{name}demo" for name in (
    "Andersson", "Berg", "Björk", "Dahl", "Eriksson", "Forsberg", "Gustafsson", "Hedlund",
    "Holm", "Isaksson", "Jakobsson", "Johansson", "Karlsson", "Lund", "Lundgren", "Magnusson",
    "Nilsson", "Nyström", "Olsson", "Persson", "Sandberg", "Sjöberg", "Strand", "Svensson",
    "Wallin", "Åberg", "Öberg", "Hussein", "Yilmaz", "Petrović", "Nguyen", "Rahimi",
))
STREETS = ("Björkvägen", "Storgatan", "Skolgatan", "Kyrkogatan", "Ängsvägen", "Parkvägen",
           "Tallstigen", "Kvarngatan", "Lärkgatan", "Järnvägsgatan", "Solvändan")

#: Occupation and employer (``{town}``: the unit's town) by employment.
JOBS = {
    Employment.EMPLOYED: (
        ("Undersköterska", "{town} kommun, hemtjänsten"),
        ("Förskollärare", "{town} kommun, förskolan Solrosen"),
        ("Lärare", "{town}skolan"),
        ("Sjuksköterska", "{town} sjukhus, medicinkliniken"),
        ("Socialsekreterare", "{town} kommun, socialtjänsten"),
        ("Personlig assistent", "Assistansbolaget Omsorgen AB"),
        ("Lagerarbetare", "Nordlager Logistik AB"),
        ("Lastbilschaufför", "Åkeri Fjärran AB"),
        ("Busschaufför", "Regionbuss {town}"),
        ("Montör", "Verkstaden i {town} AB"),
        ("Snickare", "Byggbolaget Provhus AB"),
        ("Elektriker", "Elkraft Montage AB"),
        ("Butikssäljare", "Matboden i {town}"),
        ("Kock", "Restaurang Hörnet"),
        ("Städare", "Renrum Service AB"),
        ("Kundtjänstmedarbetare", "Telefonia Kundservice AB"),
        ("Ekonomiassistent", "Byggbolaget Provhus AB"),
        ("Systemutvecklare", "Kodverket AB"),
    ),
    Employment.SELF_EMPLOYED: (
        ("Frisör", "Salong Saxen"), ("Hantverkare", "Fixarfirman i {town}"),
        ("Redovisningskonsult", "Siffrorna Redovisning"), ("Taxiförare", "Taxi Nattugglan"),
    ),
    Employment.UNEMPLOYED: (
        ("Tidigare butikssäljare", None), ("Tidigare lagerarbetare", None),
        ("Undersköterska, arbetssökande", None),
    ),
    Employment.STUDENT: (
        ("Student, sjuksköterskeprogrammet", None), ("Student, ekonomprogrammet", None),
        ("Studerar på komvux", None),
    ),
}
#: Most patients of working age are employed: how many in 20 have each employment.
EMPLOYMENT_WEIGHTS = {Employment.EMPLOYED: 15, Employment.UNEMPLOYED: 2,
                      Employment.SELF_EMPLOYED: 2, Employment.STUDENT: 1}
# fmt: on


@dataclass(frozen=True)
class Place:
    """What a demo unit's patients have in common: their town and their doctors."""

    town: str
    postcode: str
    doctors: tuple[str, ...]


#: One per demo unit, in the order of ``demo.UNITS``.
PLACES = (
    Place("Exempelby", "999 31", ("Dr. Karin Provläkare", "Dr. Johan Exempelman",
                                  "Dr. Leila Testdoktor")),
    Place("Provdalen", "999 62", ("Dr. Per Påhittad", "Dr. Maria Låtsasson",
                                  "Dr. Sven Fiktivsson")),
)  # fmt: skip

# -- Their sick leave -----------------------------------------------------------------------

MENTAL = ("F43.8A", "F43.8A", "F32.1", "F32.0", "F41.1", "F41.2", "F43.2", "F33.1")
PAIN = ("M54.5", "M54.2", "M79.1", "M75.1", "M54.4", "M79.7", "M53.1", "M51.1")
MINOR = ("J11", "J06", "K35", "S62", "S93", "K80")
SERIOUS = ("C18", "C43", "I63", "I21", "G35", "U09.9", "M17.1", "S82")
COMMON = (*MENTAL, *PAIN, "S82", "G43.0", "U09.9")

#: A certificate as (first day, last day, degree), in days from the day the demo is loaded.
Period = tuple[int, int, int]


def _chain(start: int, *parts: tuple[int, int]) -> list[Period]:
    """Back-to-back certificates from day ``start``, one per (days, degree)."""
    periods = []
    for length, degree in parts:
        periods.append((start, start + length - 1, degree))
        start += length
    return periods


# Each draws one patient's certificates; the comment says where they stand today.


def _started(rng: random.Random) -> list[Period]:  # day 3–14
    day, length = rng.randint(3, 14), rng.choice((14, 21, 28))
    length += 14 if length < day + 3 else 0
    return _chain(1 - day, (length, rng.choice((100, 100, 50))))


def _month(rng: random.Random) -> list[Period]:  # day 20–40
    return _chain(1 - rng.randint(20, 40), (14, 100), (28, rng.choice((100, 100, 75))))


def _near_day_90(rng: random.Random) -> list[Period]:  # day 90 in 1–13 days
    return _chain(1 - rng.randint(77, 89), (14, 100), (30, 100), (60, rng.choice((75, 50))))


def _near_day_180(rng: random.Random) -> list[Period]:  # day 180 in 2–13 days
    return _chain(1 - rng.randint(167, 178), (30, 100), (60, 100), (120, rng.choice((75, 50))))


def _half_year(rng: random.Random) -> list[Period]:  # day 200–320
    return _chain(1 - rng.randint(200, 320), (30, 100), (90, 100), (90, 75), (120, 50))


def _over_a_year(rng: random.Random) -> list[Period]:  # day 380–460
    return _chain(1 - rng.randint(380, 460), (30, 100), (90, 100), (180, 75), (180, 50))


def _ended(rng: random.Random) -> list[Period]:  # 25–70 days, ended 2–14 days ago
    length, end = rng.randint(25, 70), -rng.randint(2, 14)
    return _chain(end - length + 1, (14, 100), (length - 14, rng.choice((100, 50))))


def _earlier(rng: random.Random) -> list[Period]:  # 3–6 weeks, ended 3–10 months ago
    length, end = rng.randint(21, 42), -rng.randint(90, 300)
    return [(end - length + 1, end, 100)]


def _recurrent(rng: random.Random) -> list[Period]:  # an earlier case; day 5–30 now
    day = rng.randint(5, 30)
    return [*_earlier(rng), *_chain(1 - day, (28 if day < 22 else 42, 100))]


def _returning(rng: random.Random) -> list[Period]:  # an earlier case; day 1 today
    return [*_earlier(rng), (0, 13, 100)]


def _step_down(rng: random.Random) -> list[Period]:  # 100 % for 4–5 weeks, now 50 %
    return _chain(1 - rng.randint(40, 75), (rng.choice((28, 35)), 100), (60, 50))


def _part_time(rng: random.Random) -> list[Period]:  # day 15–60, never full time
    return _chain(1 - rng.randint(15, 60), (30, rng.choice((50, 75))), (42, rng.choice((50, 25))))


def _short_gap(rng: random.Random) -> list[Period]:  # 2–4 days between: still one case
    start, gap = 1 - rng.randint(28, 55), rng.randint(2, 4)
    return _chain(start, (21, 100)) + _chain(start + 21 + gap, (42, rng.choice((100, 50))))


def _ten_day_gap(rng: random.Random) -> list[Period]:  # 10 days between: a new case
    start, earlier = 1 - rng.randint(5, 20), rng.randint(14, 28)
    return _chain(start - 10 - earlier, (earlier, 100)) + _chain(start, (28, 100))


@dataclass(frozen=True)
class Course:
    """A kind of sick-leave history, drawn afresh for each patient who follows it."""

    periods: Callable[[random.Random], list[Period]]
    diagnoses: tuple[str, ...]
    #: Why the coordinator offers coordination (the screening reason), if they do.
    why: str


# fmt: off
STARTED = Course(_started, COMMON, "Nyligen sjukskriven och orolig för hur länge det blir; vill "
                 "ha en kontaktperson under sjukskrivningen.")
STARTED_MINOR = Course(_started, MINOR, "Kort sjukskrivning.")
MONTH = Course(_month, COMMON, "Sjukskriven mer än 14 dagar och orolig för återgången; behöver "
               "stöd i kontakten med arbetsgivaren.")
DAY_90 = Course(_near_day_90, MENTAL + PAIN, "Närmar sig dag 90 i rehabiliteringskedjan; "
                "arbetsförmågan behöver stämmas av mot det egna arbetet.")
DAY_180 = Course(_near_day_180, MENTAL + PAIN + SERIOUS, "Närmar sig dag 180; behöver stöd inför "
                 "Försäkringskassans prövning mot annat arbete hos arbetsgivaren.")
HALF_YEAR = Course(_half_year, SERIOUS + MENTAL, "Lång sjukskrivning med flera aktörer; behöver "
                   "samordning med Försäkringskassan och arbetsgivaren.")
OVER_A_YEAR = Course(_over_a_year, SERIOUS, "Sjukskriven mer än ett år; planering tillsammans "
                     "med Försäkringskassan och Arbetsförmedlingen.")
ENDED = Course(_ended, COMMON, "Sjukskrivningen väntas bli lång; vill ha stöd i återgången.")
RECURRENT = Course(_recurrent, MENTAL + PAIN, "Upprepade sjukskrivningar med samma besvär "
                   "det senaste året; vill ha hjälp att bryta mönstret.")
RETURNING = replace(RECURRENT, periods=_returning)
STEP_DOWN = Course(_step_down, MENTAL + PAIN, "Trappar ner sjukskrivningen; behöver stöd i att "
                   "planera arbetstider och anpassningar med arbetsgivaren.")
PART_TIME = Course(_part_time, MENTAL + PAIN, "Deltidssjukskriven och har svårt att få ihop "
                   "arbete och behandling; önskar stöd i kontakten med chefen.")
SHORT_GAP = Course(_short_gap, COMMON, "Förlängd sjukskrivning efter ett kort uppehåll; "
                   "återgången behöver planeras bättre den här gången.")
TEN_DAY_GAP = Course(_ten_day_gap, COMMON, "Ny sjukskrivning strax efter den förra; risk för "
                     "upprepade sjukskrivningar.")
# fmt: on

# -- Their coordination case ----------------------------------------------------------------


@dataclass(frozen=True)
class CasePlan:
    """How far the coordination case has come: the steps taken through the services."""

    #: Registered as the acting coordinator's case, or left for someone to take.
    is_assigned: bool = True
    decision: ScreeningDecision | None = None
    #: The screening reason, when not the course's reason for offering coordination.
    reason: str | None = None
    is_active: bool = False
    #: Handed to the unit's other coordinator (where the unit has two).
    is_transferred: bool = False
    #: The follow-up date in days from today; -1 (yesterday) is as overdue as the service allows.
    follow_up_in: int | None = None
    outcome: CaseOutcome | None = None
    #: The case closes before the last certificate, whose new sick leave opens a new case.
    reopens: bool = False


# fmt: off
NEW = CasePlan()
UNASSIGNED = CasePlan(is_assigned=False)
NOT_NEEDED = CasePlan(decision=ScreeningDecision.NOT_NEEDED, reason="Kort sjukskrivning efter "
                      "akut sjukdom; väntas åter i arbete utan insatser.")
DECLINED = CasePlan(decision=ScreeningDecision.DECLINED, reason="Tackar nej; vill sköta "
                    "kontakten med arbetsgivaren själv men hör av sig om behovet ändras.")
OFFERED = CasePlan(decision=ScreeningDecision.OFFER)
ACTIVE = replace(OFFERED, is_active=True)
BACK_AT_WORK = replace(NOT_NEEDED, reason="Sjukskrivningen är slut och patienten är tillbaka i "
                       "arbete; ingen koordinering behövs.")
# fmt: on


def _closed(outcome: CaseOutcome) -> CasePlan:
    return replace(ACTIVE, outcome=outcome)


@dataclass(frozen=True)
class Line:
    """``count`` patients of each demo unit follow ``course`` and have reached ``plan``."""

    course: Course
    plan: CasePlan
    count: int = 1
    is_protected: bool = False


#: Each demo unit's generated caseload (beside the hand-written patients in ``demo``).
LINEUP = (
    Line(STARTED, UNASSIGNED, 4),
    Line(STARTED, NEW, 5),
    Line(STARTED_MINOR, NOT_NEEDED),
    Line(STARTED_MINOR, replace(NOT_NEEDED, is_assigned=False)),
    Line(STARTED, OFFERED),
    Line(MONTH, NEW, 4),
    Line(MONTH, UNASSIGNED, 2),
    Line(MONTH, OFFERED, 2),
    Line(MONTH, OFFERED, is_protected=True),
    Line(MONTH, replace(OFFERED, follow_up_in=2)),
    Line(MONTH, ACTIVE, 2),
    Line(MONTH, DECLINED, 2),
    Line(DAY_90, replace(ACTIVE, follow_up_in=5)),
    Line(DAY_90, replace(ACTIVE, is_transferred=True)),
    Line(DAY_90, OFFERED),
    Line(DAY_180, replace(ACTIVE, follow_up_in=-1)),
    Line(DAY_180, replace(ACTIVE, follow_up_in=10)),
    Line(HALF_YEAR, replace(ACTIVE, follow_up_in=0)),
    Line(HALF_YEAR, ACTIVE),
    Line(OVER_A_YEAR, replace(ACTIVE, follow_up_in=28)),
    Line(OVER_A_YEAR, _closed(CaseOutcome.HANDED_OVER)),
    Line(ENDED, _closed(CaseOutcome.RETURNED_FULL_TIME), 2),
    Line(ENDED, _closed(CaseOutcome.STUDIES)),
    Line(ENDED, _closed(CaseOutcome.OTHER_OCCUPATION)),
    Line(ENDED, BACK_AT_WORK),
    Line(RECURRENT, NEW),
    Line(RECURRENT, OFFERED),
    Line(RECURRENT, replace(ACTIVE, follow_up_in=-1)),
    Line(RETURNING, replace(_closed(CaseOutcome.RETURNED_FULL_TIME), reopens=True)),
    Line(STEP_DOWN, ACTIVE, 2),
    Line(STEP_DOWN, replace(ACTIVE, follow_up_in=4)),
    Line(STEP_DOWN, replace(ACTIVE, is_transferred=True)),
    Line(STEP_DOWN, _closed(CaseOutcome.RETURNED_PART_TIME)),
    Line(PART_TIME, NEW, 2),
    Line(PART_TIME, OFFERED),
    Line(PART_TIME, _closed(CaseOutcome.RETURNED_PART_TIME)),
    Line(SHORT_GAP, NEW),
    Line(SHORT_GAP, OFFERED),
    Line(SHORT_GAP, ACTIVE),
    Line(TEN_DAY_GAP, UNASSIGNED),
    Line(TEN_DAY_GAP, OFFERED),
)

#: A case note for the cases being followed up, by the diagnosis's letter (F, M, or other).
NOTES = {
    "F": (("Kartläggning", "Samtal om arbetssituationen: hög arbetsbelastning sedan en "
           "omorganisation. Sömnen har blivit bättre; vill pröva att arbeta 50 % om en månad."),
          ("Planering", "Har börjat med KBT. Vi planerar ett avstämningsmöte med arbetsgivaren "
           "när behandlingen pågått några veckor.")),
    "M": (("Kartläggning", "Långvarig värk i nacke och axlar; fysioterapi en gång i veckan. "
           "Tunga lyft går inte; vill diskutera anpassade arbetsuppgifter med chefen."),
          ("Telefonkontakt", "Har fått plats i multimodal rehabilitering (MMR1) som börjar om "
           "tre veckor. Patienten är positiv.")),
    "": (("Telefonkontakt", "Behandlingen går enligt plan. Hör av sig efter nästa läkarbesök om "
          "hur återgången till arbetet ska läggas upp."),),
}  # fmt: skip


@dataclass(frozen=True)
class Story:
    """One demo patient: who they are, their certificates, and where their case stands."""

    details: PatientDetails
    personnummer: str
    diagnosis: str
    doctor: str
    periods: tuple[Period, ...]
    plan: CasePlan
    #: The screening reason, if the plan has a screening decision.
    reason: str = ""
    notes: tuple[tuple[str, str], ...] = ()
    #: The employer's name (found in, or added to, the directory).
    employer: str | None = None


# -- Generation -----------------------------------------------------------------------------


def _check_digit(nine_digits: str) -> int:
    """The Luhn check digit of a personnummer's YYMMDDNNN."""
    total = 0
    for position, digit in enumerate(nine_digits):
        product = int(digit) * (2 - position % 2)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class _Taken:
    """What is handed out already: no two demo patients share a number or a name."""

    numbers: set[str]
    names: set[tuple[str, str]]


def _personnummer(rng: random.Random, is_male: bool, taken: _Taken) -> str:
    """A valid, unused number of someone born 1960–2003; the ninth digit is odd for men."""
    while True:
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(44 * 365))
        serial = f"{rng.randrange(1, 100):02d}{rng.randrange(1 if is_male else 0, 10, 2)}"
        number = f"{born:%Y%m%d}{serial}{_check_digit(f'{born:%y%m%d}{serial}')}"
        if number not in taken.numbers:
            taken.numbers.add(number)
            return number


def _details(
    rng: random.Random, place: Place, line: Line, taken: _Taken
) -> tuple[PatientDetails, str | None]:
    """A patient's details, and their employer's name (None: no employer)."""
    while True:  # as among the sick-listed, most are women
        first = rng.choice(WOMEN if rng.random() < 0.6 else MEN)
        last = rng.choice(FAMILY_NAMES)
        if (first, last) not in taken.names:
            taken.names.add((first, last))
            break
    employment = rng.choices(list(EMPLOYMENT_WEIGHTS), list(EMPLOYMENT_WEIGHTS.values()))[0]
    occupation, employer = rng.choice(JOBS[employment])
    details = PatientDetails(
        first_name=first,
        last_name=last,
        # PTS keeps 070-174 06 05 to 070-174 06 99 for fiction: no one answers.
        phone=f"070-174 06 {rng.randrange(5, 100):02d}",
        address=f"{rng.choice(STREETS)} {rng.randint(1, 60)}\n{place.postcode} {place.town}",
        employment=employment,
        occupation=occupation,
        is_protected=line.is_protected,
    )
    return details, employer.format(town=place.town) if employer else None


def _story(rng: random.Random, place: Place, line: Line, taken: _Taken) -> Story:
    details, employer = _details(rng, place, line, taken)
    diagnosis = rng.choice(line.course.diagnoses)
    # Notes only on the cases being followed up: enough to show a journal, few enough to load
    # fast (every entry is a hash-chain append).
    is_followed = line.plan.is_active and line.plan.follow_up_in is not None
    notes = NOTES.get(diagnosis[0], NOTES[""])
    return Story(
        details=details,
        personnummer=_personnummer(rng, details.first_name in MEN, taken),
        diagnosis=diagnosis,
        doctor=rng.choice(place.doctors),
        periods=tuple(line.course.periods(rng)),
        plan=line.plan,
        reason=line.plan.reason or line.course.why,
        notes=(rng.choice(notes),) if is_followed else (),
        employer=employer,
    )


@cache
def caseloads() -> tuple[tuple[Story, ...], ...]:
    """Each demo unit's generated patients: the same on every call and every installation."""
    rng = random.Random("coordinator demo caseload")  # noqa: S311 (fiction, not secrets)
    taken = _Taken(set(), set())
    return tuple(
        tuple(_story(rng, place, line, taken) for line in LINEUP for _ in range(line.count))
        for place in PLACES
    )


# -- Loading --------------------------------------------------------------------------------


def enact(actor: Actor, story: Story, colleagues: Sequence[User]) -> Patient:
    """Register the patient, their certificates and their case's steps, as ``actor``.

    ``colleagues`` are the unit's coordinators (a case may be transferred between them).
    """
    today = clock.today()
    patient = register_patient(
        actor, story.personnummer, story.details, assign_to_actor=story.plan.is_assigned
    )
    if story.employer and story.details.employment.has_employer:
        demo_contacts.set_employer(actor, patient, story.employer)
    before_new_case = story.periods[:-1] if story.plan.reopens else story.periods
    _certify(actor, patient, story, before_new_case, today)
    _take_steps(actor, patient, story, colleagues, today)
    _certify(actor, patient, story, story.periods[len(before_new_case) :], today)
    return patient


#: What refusing patients said (the demo records their words, as coordinators do).
REFUSALS = ("Vill inte att arbetsgivaren får veta varför hon är sjukskriven.",
            "Konflikt med chefen; vill själv sköta kontakten med arbetsplatsen.")  # fmt: skip


def _consents(actor: Actor, patient: Patient, story: Story, today: date) -> None:
    """Coordination consent (what activation needs), and the patient's answers about the
    employer and Försäkringskassan: some given, some refused, a few ending soon or withdrawn.
    Drawn from a generator seeded by the patient, so the rest of the demo stays as it was."""
    rng = random.Random(story.personnummer)  # noqa: S311 (fiction, not secrets)
    oral, written = ConsentMethod.ORAL, ConsentMethod.WRITTEN
    record(actor, patient, ConsentInput(ConsentKind.COORDINATION, ConsentAnswer.GIVEN, oral, today))
    if story.details.employment is Employment.EMPLOYED and story.employer:
        if rng.random() < 0.6:
            employer = record(actor, patient, ConsentInput(
                ConsentKind.EMPLOYER, ConsentAnswer.GIVEN, oral, today,
                recipient_name=story.employer,
            ))  # fmt: skip
            if rng.random() < 0.15:
                withdraw(actor, patient, employer, today, "Ångrar sig efter samtal med facket.")
        else:
            record(actor, patient, ConsentInput(
                ConsentKind.EMPLOYER, ConsentAnswer.REFUSED, oral, today,
                note=rng.choice(REFUSALS),
            ))  # fmt: skip
    if rng.random() < 0.7:
        ends = today + timedelta(days=rng.randrange(5, 14)) if rng.random() < 0.3 else None
        record(actor, patient, ConsentInput(
            ConsentKind.SOCIAL_INSURANCE, ConsentAnswer.GIVEN, written, today,
            form_reference=f"Skannad blankett, dokument {rng.randrange(10000, 99999)}",
            valid_until=ends,
        ))  # fmt: skip


def _certify(
    actor: Actor, patient: Patient, story: Story, periods: Sequence[Period], today: date
) -> None:
    for start, end, degree in periods:
        add_certificate(actor, patient, CertificateInput(
            today + timedelta(days=start), today + timedelta(days=end), degree,
            story.diagnosis, story.doctor,
        ))  # fmt: skip


def _take_steps(
    actor: Actor, patient: Patient, story: Story, colleagues: Sequence[User], today: date
) -> None:
    plan = story.plan
    if plan.decision is not None:
        cases.decide_screening(actor, patient, plan.decision, story.reason)
    if plan.is_active:
        _consents(actor, patient, story, today)
        cases.activate(actor, patient)
        if plan.outcome is None:
            demo_plans.add(actor, patient, story.personnummer, today)
            demo_contacts.add(actor, patient, story.personnummer)
    for heading, body in story.notes:
        journal.add_entry(actor, patient, EntryKind.NOTE, heading, body)
    others = [user for user in colleagues if user.id != actor.user.id]
    if plan.is_transferred and others:
        cases.transfer(actor, patient, others[0].id)
    if plan.follow_up_in is not None:
        cases.set_follow_up(actor, patient, today + timedelta(days=plan.follow_up_in))
    if plan.outcome is not None:
        # Yesterday: a case cannot close before it was opened (just now), and a sick leave
        # starting today is then new, so it opens a new case.
        cases.close(actor, patient, plan.outcome, today - timedelta(days=1))
