"""Forms of the mapping, plan and treatment pages."""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional

from coordinator import clock
from coordinator.auth.models import ProviderType
from coordinator.consents.models import ConsentKind
from coordinator.forms import DATE_HINT, OPTIONAL_CHOICE, VersionedForm, bounded, enum_choices
from coordinator.plans import service, treatments
from coordinator.plans.mapping import SECTION_LABELS, SECTION_MAX
from coordinator.plans.models import (
    MAPPING_SECTIONS,
    AgreementMethod,
    MeasureStatus,
    ResponsibleActor,
    ReturnBelief,
    ReturnGoal,
    TreatmentKind,
    TreatmentProvider,
)

#: Empty measure rows offered below the filled ones (no script needed to add one).
BLANK_MEASURES = 2

_SECTION_HINTS = {
    "work_situation": _l("Job, demands, possibilities of adjustment, relation to the employer."),
    "life_situation": _l("Family, economy, social situation."),
    "health": _l("In the patient's own words."),
    "obstacles": None,
    "resources": None,
    "own_goal": None,
    "risk_factors": _l("E.g. earlier long sick leave, conflict at work, low belief in return."),
}


def _number(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def _section(name: str) -> TextAreaField:
    return TextAreaField(
        SECTION_LABELS[name],
        validators=[Optional(), bounded(SECTION_MAX)],
        description=_SECTION_HINTS[name],
        render_kw={"rows": 3},
    )


class MappingForm(VersionedForm):
    #: The version the form was filled from (0: none yet); another since is refused.
    based_on = HiddenField()
    work_situation = _section("work_situation")
    life_situation = _section("life_situation")
    health = _section("health")
    obstacles = _section("obstacles")
    resources = _section("resources")
    own_goal = _section("own_goal")
    risk_factors = _section("risk_factors")
    belief = RadioField(_l("Belief in return to work"), validators=[OPTIONAL_CHOICE])
    save = SubmitField(_l("Save draft"))
    sign = SubmitField(_l("Sign the mapping"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.belief.choices = enum_choices(ReturnBelief)

    @property
    def based_on_number(self) -> int | None:
        return _number(self.based_on.data)

    @property
    def sections(self) -> dict[str, str | None]:
        return {name: getattr(self, name).data for name in MAPPING_SECTIONS}


class MeasureForm(FlaskForm):
    """One row of the plan's measures (a subform: the plan form carries the CSRF token)."""

    class Meta:
        csrf = False

    uid = HiddenField()
    description = StringField(_l("What"), validators=[Optional(), bounded(service.DESCRIPTION_MAX)])
    actor = SelectField(_l("Who"), default=ResponsibleActor.CARE_UNIT.value)
    actor_name = StringField(
        _l("Name"),
        validators=[Optional(), bounded(service.NAME_MAX)],
        render_kw={"autocomplete": "off", "placeholder": _l("e.g. the employer's name")},
    )
    starts_on = DateField(_l("From"), validators=[Optional()])
    due_on = DateField(_l("By"), validators=[Optional()])
    status = SelectField(_l("Status"), default=MeasureStatus.PLANNED.value)
    remove = BooleanField(_l("Remove"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor.choices = enum_choices(ResponsibleActor)
        self.status.choices = enum_choices(MeasureStatus)

    @property
    def is_blank(self) -> bool:
        return not (self.description.data or "").strip()


class PlanForm(VersionedForm):
    #: The version the form was filled from (a replaced one is refused).
    based_on = HiddenField()
    goal = SelectField(_l("Return to"), validators=[InputRequired(_l("Choose the goal."))])
    goal_degree = SelectField(_l("Working time"), coerce=int, default=100)
    starts_on = DateField(
        _l("Plan starts"), validators=[InputRequired(DATE_HINT)], default=clock.today
    )
    target_on = DateField(_l("Goal reached by"), validators=[InputRequired(DATE_HINT)])
    goal_text = TextAreaField(
        _l("The goal in the patient's words"),
        validators=[Optional(), bounded(service.GOAL_MAX)],
        render_kw={"rows": 2},
    )
    intermediate_goals = TextAreaField(
        _l("Intermediate goals"),
        validators=[Optional(), bounded(service.GOAL_MAX)],
        description=_l("One per line, e.g. “25 % at own job from 1 March”."),
        render_kw={"rows": 2},
    )
    measures = FieldList(FormField(MeasureForm), min_entries=1, max_entries=service.MEASURES_MAX)
    submit = SubmitField(_l("Save plan"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.goal.choices = enum_choices(ReturnGoal)
        self.goal_degree.choices = [(d, f"{d} %") for d in service.GOAL_DEGREES]

    @property
    def based_on_number(self) -> int | None:
        return _number(self.based_on.data)


class AgreeForm(VersionedForm):
    number = HiddenField()
    agreed_on = DateField(_l("Agreed on"), validators=[InputRequired(DATE_HINT)],
                          default=clock.today)  # fmt: skip
    method = RadioField(
        _l("How"), validators=[InputRequired(_l("Choose how."))],
        default=AgreementMethod.MEETING.value,
    )  # fmt: skip
    next_follow_up_on = DateField(
        _l("Next follow-up"), validators=[InputRequired(DATE_HINT)],
        description=_l("Required: a plan in force always has a next follow-up."),
    )  # fmt: skip
    note = TextAreaField(
        _l("The patient's words"), validators=[Optional(), bounded(service.NOTES_MAX)],
        render_kw={"rows": 2},
    )  # fmt: skip
    submit = SubmitField(_l("Record the patient's agreement"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.method.choices = enum_choices(AgreementMethod)


class FollowUpForm(VersionedForm):
    held_on = DateField(_l("Held on"), validators=[InputRequired(DATE_HINT)],
                        default=clock.today)  # fmt: skip
    notes = TextAreaField(
        _l("What came up"),
        validators=[InputRequired(_l("Write what came up.")), bounded(service.NOTES_MAX)],
        render_kw={"rows": 4},
    )
    next_on = DateField(_l("Next follow-up"), validators=[Optional()])
    end_plan = BooleanField(_l("End the plan: no further follow-up"))
    change_plan = BooleanField(_l("The plan needs to change: open a new version after saving"))
    submit = SubmitField(_l("Record follow-up"))


class ProgressForm(VersionedForm):
    #: The measure the form was posted for: a refused form is shown again at that measure.
    measure_uid: uuid.UUID | None = None

    status = SelectField(_l("Status"))
    outcome = TextAreaField(
        _l("Outcome"), validators=[Optional(), bounded(service.OUTCOME_MAX)], render_kw={"rows": 2}
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = enum_choices(MeasureStatus)


class ShareForm(FlaskForm):
    recipient = SelectField(_l("Share with"), validators=[InputRequired(_l("Choose who."))])
    recipient_name = StringField(
        _l("Recipient by name"),
        validators=[Optional(), bounded(service.NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )
    shared_on = DateField(_l("Date"), validators=[InputRequired(DATE_HINT)], default=clock.today)
    submit = SubmitField(_l("Share and print"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recipient.choices = enum_choices(ConsentKind.recipients())


class TreatmentForm(VersionedForm):
    kind = SelectField(_l("Treatment"), validators=[InputRequired(_l("Choose the treatment."))])
    provider = SelectField(_l("Given by"), default=TreatmentProvider.OWN_UNIT.value)
    provider_type = RadioField(_l("Provider type"), default=ProviderType.PUBLIC.value)
    started_on = DateField(_l("Started"), validators=[Optional()])
    completed_on = DateField(_l("Completed"), validators=[Optional()])
    sessions = IntegerField(
        _l("Sessions"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric"},
    )
    note = StringField(
        _l("Note"), validators=[Optional(), bounded(treatments.NOTE_MAX)],
        description=_l("E.g. the therapist or the programme."),
        render_kw={"autocomplete": "off"},
    )  # fmt: skip
    submit = SubmitField(_l("Save treatment"))

    def __init__(self, *args: Any, kbt_min: int = 10, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = enum_choices(TreatmentKind)
        self.provider.choices = enum_choices(TreatmentProvider)
        self.provider_type.choices = enum_choices(ProviderType)
        self.sessions.description = _l(
            "Sessions given so far (KBT counts as completed from %(n)d sessions).", n=kbt_min
        )
