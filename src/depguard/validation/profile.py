"""depguard's profile of OSV: the records its own feed may hold.

A record from another database only has to pass ``osv.schema.json``; a record in depguard's
feed (and in anything a depguard client accepts) passes ``depguard.schema.json`` too.
"""

from __future__ import annotations

from typing import Any

from depguard.validation.schema import SchemaIssue, osv_issues, schema_issues, validator

__all__ = ["PROFILE_SCHEMA", "prepare_profile", "profile_issues", "profile_vouched"]

#: The bundled file of depguard's stricter profile.
PROFILE_SCHEMA = "depguard.schema.json"


def profile_issues(instance: Any) -> list[SchemaIssue]:
    """Violations of the OSV schema and of depguard's profile, for records in depguard's feed."""
    osv, profile = osv_issues(instance), schema_issues(PROFILE_SCHEMA, instance)
    if not osv and not profile:
        return []
    return sorted(set(osv) | set(profile))


def profile_vouched(instance: Any) -> bool:
    """True when the compiled checks prove ``instance`` valid under both schemas (no jsonschema run)."""
    return validator("osv.schema.json").vouches_for(instance) and validator(PROFILE_SCHEMA).vouches_for(instance)


def prepare_profile() -> None:
    """Compile both schemas' checks now, if no call has yet.

    Call it before sharing record checks with a forked worker: the worker then inherits the
    compiled checks instead of compiling its own (about 10 ms in each process, one of them
    spent while the other waits for it).
    """
    validator("osv.schema.json")
    validator(PROFILE_SCHEMA)
