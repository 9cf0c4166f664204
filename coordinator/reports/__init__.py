"""The managers' reports: caseload review, sick-leave statistics, the quarterly report under
the state agreement and the indicator table — all computed from what coordinators record."""
