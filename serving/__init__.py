"""Everything after training, one folder per audience.

* :mod:`serving.batch`: the operator's nightly job (features, scores, reasons, checks, the score store);
* :mod:`serving.crm`: the CRM team's lists and campaign readouts, built from published scores;
* :mod:`serving.api`: the HTTP service (BentoML) for the CRM tools and other systems;
* :mod:`serving.cli`: the ``churn`` command line for every stage.

Shared by them: :mod:`serving.models` (the one model loader), :mod:`serving.columns`
(the scores table's columns), :mod:`serving.defaults` (where things live by default)
and :mod:`serving.errors` (validation errors as one-line messages).
"""
