"""What makes a record acceptable: one rule set for the validator and for every consumer.

* :mod:`~depguard.validation.schema` -- the bundled JSON Schemas, compiled once
  (:mod:`~depguard.validation.fastschema`), jsonschema only for the error messages;
* :mod:`~depguard.validation.profile` -- the OSV schema plus depguard's stricter profile;
* :mod:`~depguard.validation.safety` -- the security floor under the schemas (control and
  bidi characters, requirement syntax in versions, confusable names) and
  :func:`~depguard.validation.safety.record_issues`, everything a client refuses a record for.

``feed validate`` runs the same functions a client runs on a download, so a feed that
validates is never refused later. The package's ``__init__`` re-exports nothing: importing one
rule set never drags in the others (the schemas are a 20 ms load).
"""
