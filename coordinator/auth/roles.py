"""The roles a user can hold (see the domain glossary)."""

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Role(StrEnum):
    """What a user may do. One role per user; coordinators and managers work in care units."""

    #: Rehabilitation coordinator (*rehabkoordinator*): works with the patients of their units.
    COORDINATOR = "coordinator"
    #: Unit manager (*verksamhetschef*): reviews caseloads and statistics of their units.
    MANAGER = "manager"
    #: System administrator: manages users and units and never reads patient data
    #: (separation of duties).
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])

    @property
    def works_in_units(self) -> bool:
        """Whether the role acts inside a current care unit chosen at sign-in."""
        return self is not Role.ADMIN


ROLE_LABELS = {
    Role.COORDINATOR: _l("Coordinator"),
    Role.MANAGER: _l("Manager"),
    Role.ADMIN: _l("Administrator"),
}
