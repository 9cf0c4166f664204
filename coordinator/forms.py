"""Form building blocks shared by every domain package."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import Length, Regexp

#: The longest value any single-line text field accepts, unless a field says otherwise.
SHORT_TEXT = 200


def bounded(maximum: int = SHORT_TEXT, minimum: int = 0) -> Length:
    """A length check with a message in the user's language."""
    if minimum:
        message = _l("Between %(min)d and %(max)d characters.", min=minimum, max=maximum)
    else:
        message = _l("At most %(max)d characters.", max=maximum)
    return Length(min=minimum, max=maximum, message=message)


USERNAME_PATTERN = Regexp(
    r"^[A-Za-z0-9._-]{2,64}$",
    message=_l("2–64 characters: letters a–z, digits, dot, hyphen or underscore."),
)
