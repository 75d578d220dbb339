"""Cohort identity and the result of one cohort-sync request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast, get_args

import attrs

from moengage_segments._frozen import FrozenMap, freeze_map
from moengage_segments.errors import ValidationError
from moengage_segments.validation import COHORT_NAME_FORBIDDEN, check_description, check_text

__all__ = ["Cohort", "CohortAction", "CohortBatchResult", "check_action", "check_cohort"]

#: The two documented values of the cohort-sync ``action`` field.
CohortAction = Literal["add_members", "remove_members"]


@attrs.frozen
class Cohort:
    """A cohort (custom segment) that cohort sync adds members to or removes them from.

    ``id`` is ``parameters.cohort_id``, ``name`` is ``parameters.cohort_name`` (must not start with ``.``
    nor contain ``| * ? \\ : < > = $ "``), ``partner`` is the syncing partner's name.

    Example::

        cohort = Cohort(id="churn-risk", name="Churn risk", partner="warehouse")
    """

    id: str
    name: str
    partner: str
    description: str | None = None


@attrs.frozen
class CohortBatchResult:
    """The service's answer to one cohort-sync request.

    Example::

        result = await client.cohorts.send_batch(cohort, "add_members", ["u1", "u2"])
        assert result.status == 200 and result.members == 2
    """

    status: int
    members: int
    bytes: int
    message: str | None = None
    attempts: int = 1
    extra: Mapping[str, Any] = attrs.field(factory=FrozenMap, converter=freeze_map)


def check_cohort(cohort: Any) -> Cohort:
    """Validate a :class:`Cohort`: id, partner and a name that follows the cohort-name rules.

    Example::

        check_cohort(Cohort(id="c1", name="VIP", partner="crm"))      # returns it
        check_cohort(Cohort(id="c1", name=".VIP", partner="crm"))     # ValidationError: cohort.name
    """
    if not isinstance(cohort, Cohort):
        raise ValidationError("cohort", f"must be a Cohort, got {type(cohort).__name__}")
    check_text("cohort.id", cohort.id)
    check_text("cohort.partner", cohort.partner)
    name = check_text("cohort.name", cohort.name)
    if name.startswith("."):
        raise ValidationError("cohort.name", "must not start with '.'")
    bad = sorted(set(name) & COHORT_NAME_FORBIDDEN)
    if bad:
        raise ValidationError("cohort.name", f'must not contain {" ".join(bad)} (forbidden: | * ? \\ : < > = $ ")')
    check_description(cohort.description)
    return cohort


def check_action(action: Any) -> CohortAction:
    """The cohort-sync ``action`` must be one of the two documented values.

    Example::

        check_action("add_members")      # returns it
        check_action("add")              # ValidationError: action
    """
    allowed = get_args(CohortAction)
    if action not in allowed:
        raise ValidationError("action", f"must be {' or '.join(repr(a) for a in allowed)}, got {action!r}")
    return cast(CohortAction, action)
