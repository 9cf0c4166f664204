"""The mapping, the plan and its versions, measures and follow-ups, and treatments.

History is kept, not overwritten. A signed mapping and an agreed plan version never change
(database triggers back the services up); revising either makes a new version beside it. Only
a draft is edited in place, and every save is checked against the plan's or mapping's lock so
two people cannot overwrite each other. Follow-ups are appended. Every free text — and the
treatment kind, which tells what the patient is treated for — is encrypted.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, ForeignKey, SmallInteger, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator import clock
from coordinator.auth.models import ProviderType, User
from coordinator.consents.models import ConsentKind
from coordinator.crypto import Encrypted, EncryptedRow
from coordinator.database import AppendOnly, UTCDateTime, enum_column
from coordinator.extensions import Model
from coordinator.labels import Labelled, register


class ReturnBelief(Labelled):
    """The patient's own belief in returning to work (a known predictor of long sick leave)."""

    CONFIDENT = "confident"
    UNSURE = "unsure"
    DOUBTFUL = "doubtful"


class ReturnGoal(Labelled):
    """Where the patient is to return (the rehabilitation chain's steps, SFB 27 kap.)."""

    OWN_JOB = "own_job"
    #: Other work at the same employer.
    OTHER_JOB_AT_EMPLOYER = "other_job_at_employer"
    NEW_JOB = "new_job"
    STUDIES = "studies"


class ResponsibleActor(Labelled):
    """Who carries out a measure (*ansvarig aktör*)."""

    CARE_UNIT = "care_unit"
    EMPLOYER = "employer"
    SOCIAL_INSURANCE = "social_insurance"
    EMPLOYMENT_SERVICE = "employment_service"
    MUNICIPALITY = "municipality"
    OCCUPATIONAL_HEALTH = "occupational_health"
    PATIENT = "patient"

    @property
    def consent_kind(self) -> ConsentKind | None:
        """The consent needed before anything about the patient goes to this actor; None for
        the care unit itself and the patient."""
        try:
            return ConsentKind(self.value)
        except ValueError:
            return None


class MeasureStatus(Labelled):
    PLANNED = "planned"
    ONGOING = "ongoing"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def is_pending(self) -> bool:
        """Still to be done: a due date passed on it is overdue."""
        return self in (MeasureStatus.PLANNED, MeasureStatus.ONGOING)


class AgreementMethod(Labelled):
    """How the patient agreed to a plan version."""

    MEETING = "meeting"
    PHONE = "phone"
    WRITTEN = "written"
    DIGITAL = "digital"


class TreatmentKind(Labelled):
    """Treatments reported under the state agreements (sjukskrivningsmiljarden, seed 001/002)."""

    MMR1 = "mmr1"
    MMR2 = "mmr2"
    BEHAVIOURAL_MEDICINE = "behavioural_medicine"
    PHYSIOTHERAPY_TRAINING = "physiotherapy_training"
    OTHER_PAIN = "other_pain"
    KBT = "kbt"
    IKBT = "ikbt"
    IPT = "ipt"
    PDT = "pdt"
    EMDR = "emdr"
    OTHER_PSYCHOLOGICAL = "other_psychological"

    @property
    def is_pain(self) -> bool:
        """A treatment of long-term pain; the others treat mental ill-health."""
        return self in _PAIN_TREATMENTS


_PAIN_TREATMENTS = frozenset({
    TreatmentKind.MMR1, TreatmentKind.MMR2, TreatmentKind.BEHAVIOURAL_MEDICINE,
    TreatmentKind.PHYSIOTHERAPY_TRAINING, TreatmentKind.OTHER_PAIN,
})  # fmt: skip


class TreatmentProvider(Labelled):
    OWN_UNIT = "own_unit"
    OTHER_UNIT = "other_unit"
    PRIVATE_PROVIDER = "private_provider"


register(
    ReturnBelief,
    {
        ReturnBelief.CONFIDENT: _l("Believes in returning"),
        ReturnBelief.UNSURE: _l("Unsure"),
        ReturnBelief.DOUBTFUL: _l("Doubts returning"),
    },
)
register(
    ReturnGoal,
    {
        ReturnGoal.OWN_JOB: _l("Own job"),
        ReturnGoal.OTHER_JOB_AT_EMPLOYER: _l("Other work at the employer"),
        ReturnGoal.NEW_JOB: _l("New job"),
        ReturnGoal.STUDIES: _l("Studies"),
    },
)
register(
    ResponsibleActor,
    {
        ResponsibleActor.CARE_UNIT: _l("The care unit"),
        ResponsibleActor.EMPLOYER: _l("Employer"),
        ResponsibleActor.SOCIAL_INSURANCE: _l("Försäkringskassan"),
        ResponsibleActor.EMPLOYMENT_SERVICE: _l("Arbetsförmedlingen"),
        ResponsibleActor.MUNICIPALITY: _l("Municipality"),
        ResponsibleActor.OCCUPATIONAL_HEALTH: _l("Occupational health service"),
        ResponsibleActor.PATIENT: _l("The patient"),
    },
)
register(
    MeasureStatus,
    {
        MeasureStatus.PLANNED: _l("Planned"),
        MeasureStatus.ONGOING: _l("Ongoing"),
        MeasureStatus.DONE: _l("Done"),
        MeasureStatus.CANCELLED: _l("Cancelled"),
    },
)
register(
    AgreementMethod,
    {
        AgreementMethod.MEETING: _l("At a meeting"),
        AgreementMethod.PHONE: _l("By phone"),
        AgreementMethod.WRITTEN: _l("In writing"),
        AgreementMethod.DIGITAL: _l("Digitally"),
    },
)
register(
    TreatmentKind,
    {
        TreatmentKind.MMR1: _l("MMR1 (multimodal rehabilitation, primary care)"),
        TreatmentKind.MMR2: _l("MMR2 (multimodal rehabilitation, specialist care)"),
        TreatmentKind.BEHAVIOURAL_MEDICINE: _l("Behavioural-medicine programme"),
        TreatmentKind.PHYSIOTHERAPY_TRAINING: _l("Active specific physiotherapist-led training"),
        TreatmentKind.OTHER_PAIN: _l("Other pain treatment"),
        TreatmentKind.KBT: _l("KBT (cognitive behavioural therapy)"),
        TreatmentKind.IKBT: _l("IKBT (internet-based KBT)"),
        TreatmentKind.IPT: _l("IPT (interpersonal therapy)"),
        TreatmentKind.PDT: _l("PDT (psychodynamic therapy)"),
        TreatmentKind.EMDR: _l("EMDR"),
        TreatmentKind.OTHER_PSYCHOLOGICAL: _l("Other psychological treatment"),
    },
)
register(
    TreatmentProvider,
    {
        TreatmentProvider.OWN_UNIT: _l("Own unit"),
        TreatmentProvider.OTHER_UNIT: _l("Another unit"),
        TreatmentProvider.PRIVATE_PROVIDER: _l("Private provider"),
    },
)

#: The mapping's sections, in the order they are filled in and printed.
MAPPING_SECTIONS = (
    "work_situation",
    "life_situation",
    "health",
    "obstacles",
    "resources",
    "own_goal",
    "risk_factors",
)


class Mapping(EncryptedRow, Model):
    """A version of the patient's mapping (*kartläggning*), made with the patient.

    A draft is edited until the coordinator signs it; a signed mapping never changes, and a
    new assessment is a new version (``number`` + 1) starting from the signed text.
    """

    __tablename__ = "mappings"
    __table_args__ = (UniqueConstraint("case_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"), index=True)
    #: The coordination case it belongs to.
    case_id: Mapped[int] = mapped_column(ForeignKey("coordination_cases.id"))
    #: Version, from 1.
    number: Mapped[int] = mapped_column(SmallInteger)
    #: Work situation: job, demands, possibilities of adjustment, relation to the employer
    #: (encrypted).
    work_situation = Encrypted(str, nullable=True)
    #: Life situation: family, economy, social network (encrypted).
    life_situation = Encrypted(str, nullable=True)
    #: Health as the patient describes it (encrypted; the coordinator makes no assessment).
    health = Encrypted(str, nullable=True)
    #: Obstacles to and resources for return to work (encrypted).
    obstacles = Encrypted(str, nullable=True)
    resources = Encrypted(str, nullable=True)
    #: The patient's own goal (encrypted).
    own_goal = Encrypted(str, nullable=True)
    #: The patient's belief in return to work, a :class:`ReturnBelief` value (encrypted).
    return_belief = Encrypted(str, nullable=True)
    #: Risk factors for long sick leave (encrypted).
    risk_factors = Encrypted(str, nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Who saved the draft last, and when (shown when a save is refused as stale).
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Set once: from then on the version is part of the record and never changes.
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Optimistic lock.
    lock: Mapped[int] = mapped_column(default=1)

    updated_by: Mapped[User] = relationship(viewonly=True, foreign_keys=[updated_by_id])
    signed_by: Mapped[User | None] = relationship(viewonly=True, foreign_keys=[signed_by_id])

    __mapper_args__ = {"version_id_col": lock}  # noqa: RUF012

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def belief(self) -> ReturnBelief | None:
        return ReturnBelief(self.return_belief) if self.return_belief else None

    def __repr__(self) -> str:
        return f"<Mapping {self.id}>"


class RehabPlan(EncryptedRow, Model):
    """The sick-leave and rehabilitation plan (*sjukskrivnings- och rehabiliteringsplan*) of a
    coordination case: one per case, its content in :class:`PlanVersion` rows.

    The plan row holds what changes between versions — the next follow-up, whether the plan
    has ended — and the lock every change to the plan goes through.
    """

    __tablename__ = "rehab_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("coordination_cases.id"), unique=True)
    #: The next follow-up with the patient; required while the plan is in force.
    next_follow_up_on: Mapped[date | None] = mapped_column(Date, index=True)
    #: The day the plan was ended at a follow-up (goal reached or case closing).
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Who changed the plan last, and when (shown when a save is refused as stale).
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Optimistic lock over the plan and all its versions, measures and follow-ups.
    lock: Mapped[int] = mapped_column(default=1)

    updated_by: Mapped[User] = relationship(viewonly=True, foreign_keys=[updated_by_id])
    versions: Mapped[list[PlanVersion]] = relationship(
        back_populates="plan", order_by="PlanVersion.number", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": lock}  # noqa: RUF012

    @property
    def latest(self) -> PlanVersion:
        return self.versions[-1]

    @property
    def in_force(self) -> PlanVersion | None:
        """The latest version the patient agreed to."""
        agreed = [version for version in self.versions if version.is_agreed]
        return agreed[-1] if agreed else None

    @property
    def draft(self) -> PlanVersion | None:
        """The version being prepared, if any (always the latest)."""
        return None if self.latest.is_agreed else self.latest

    @property
    def current(self) -> PlanVersion:
        """What the plan says now: the version in force, or the first draft."""
        return self.in_force or self.latest

    @property
    def is_active(self) -> bool:
        """In force: agreed and not ended."""
        return self.ended_on is None and self.in_force is not None

    def version(self, number: int) -> PlanVersion | None:
        return next((v for v in self.versions if v.number == number), None)

    def __repr__(self) -> str:
        return f"<RehabPlan {self.id}>"


class PlanVersion(EncryptedRow, Model):
    """One version of a plan's content: the goal and the measures. Agreed versions never
    change; an earlier version stays readable as it was agreed."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("rehab_plans.id"))
    #: Version, from 1.
    number: Mapped[int] = mapped_column(SmallInteger)
    #: The goal: where the patient returns.
    goal: Mapped[ReturnGoal] = mapped_column(enum_column(ReturnGoal))
    #: Working time aimed at, in percent of full time (25, 50, 75, 100).
    goal_degree: Mapped[int] = mapped_column(SmallInteger)
    #: The plan's first day and the day the goal is to be reached.
    starts_on: Mapped[date] = mapped_column(Date)
    target_on: Mapped[date] = mapped_column(Date)
    #: The goal in the patient's words (encrypted).
    goal_text = Encrypted(str, nullable=True)
    #: Intermediate goals (*delmål*), one per line (encrypted).
    intermediate_goals = Encrypted(str, nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: The patient's agreement (*patientens medverkan*): the day and how; empty on a draft.
    agreed_on: Mapped[date | None] = mapped_column(Date)
    agreement_method: Mapped[AgreementMethod | None] = mapped_column(enum_column(AgreementMethod))
    #: What the patient said when agreeing (encrypted).
    agreement_note = Encrypted(str, nullable=True)
    agreed_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    plan: Mapped[RehabPlan] = relationship(back_populates="versions")
    measures: Mapped[list[Measure]] = relationship(
        back_populates="version", order_by="Measure.position", lazy="selectin"
    )
    created_by: Mapped[User] = relationship(
        viewonly=True, foreign_keys=[created_by_id], lazy="joined"
    )

    @property
    def is_agreed(self) -> bool:
        return self.agreed_on is not None

    def __repr__(self) -> str:
        return f"<PlanVersion {self.id}>"


class Measure(EncryptedRow, Model):
    """A measure (*insats*) of a plan version: what is done, by whom, and when.

    Its description, actor and dates belong to the version (fixed once agreed); its status and
    outcome are progress, updated as the work goes on.
    """

    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"), index=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    #: The same measure in the version this one was carried over from.
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id"))
    #: What is to be done (encrypted).
    description = Encrypted(str)
    actor: Mapped[ResponsibleActor] = mapped_column(enum_column(ResponsibleActor))
    #: The actor by name, e.g. the employer or the physiotherapist (encrypted).
    actor_name = Encrypted(str, nullable=True)
    starts_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[MeasureStatus] = mapped_column(
        enum_column(MeasureStatus), default=MeasureStatus.PLANNED
    )
    #: What came of it (encrypted).
    outcome = Encrypted(str, nullable=True)

    version: Mapped[PlanVersion] = relationship(back_populates="measures")

    def is_overdue(self, today: date) -> bool:
        return self.status.is_pending and self.due_on is not None and self.due_on < today

    def __repr__(self) -> str:
        return f"<Measure {self.id}>"


class FollowUp(AppendOnly, EncryptedRow, Model):
    """A follow-up of the plan with the patient (*uppföljning*): what happened, and when next."""

    __tablename__ = "plan_follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("rehab_plans.id"), index=True)
    #: The version in force when it was held.
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"))
    held_on: Mapped[date] = mapped_column(Date)
    #: What happened (encrypted).
    notes = Encrypted(str)
    #: The next follow-up set at this one; empty when the plan ended here.
    next_on: Mapped[date | None] = mapped_column(Date)
    #: The plan was ended at this follow-up.
    ended_plan: Mapped[bool] = mapped_column(default=False)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    recorded_by: Mapped[User] = relationship(viewonly=True, lazy="joined")

    def __repr__(self) -> str:
        return f"<FollowUp {self.id}>"


class Treatment(EncryptedRow, Model):
    """A treatment under the state agreements given in the coordination case."""

    __tablename__ = "treatments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("care_units.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("coordination_cases.id"), index=True)
    #: A :class:`TreatmentKind` value (encrypted: it tells what the patient is treated for).
    kind = Encrypted(str)
    provider: Mapped[TreatmentProvider] = mapped_column(enum_column(TreatmentProvider))
    #: Public or private provider (the reports to Försäkringskassan break down by it).
    provider_type: Mapped[ProviderType] = mapped_column(enum_column(ProviderType))
    started_on: Mapped[date | None] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date)
    #: Sessions given (*behandlingstillfällen*).
    sessions: Mapped[int | None] = mapped_column(SmallInteger)
    #: E.g. the therapist or the programme (encrypted).
    note = Encrypted(str, nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    #: Optimistic lock.
    lock: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock}  # noqa: RUF012

    @property
    def treatment(self) -> TreatmentKind:
        return TreatmentKind(self.kind)

    def counts_as_completed(self, kbt_min_sessions: int) -> bool:
        """Completed for the reports under the state agreements: a completion date, and for
        KBT at least ``kbt_min_sessions`` sessions (the agreement's criterion, seed 001)."""
        if self.completed_on is None:
            return False
        if self.treatment is TreatmentKind.KBT:
            return (self.sessions or 0) >= kbt_min_sessions
        return True

    def __repr__(self) -> str:
        return f"<Treatment {self.id}>"
