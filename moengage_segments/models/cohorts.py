"""Cohort identity and the result of one cohort-sync request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

__all__ = ["Cohort", "CohortAction", "CohortBatchResult"]

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
    extra: Mapping[str, Any] = attrs.field(factory=dict)
