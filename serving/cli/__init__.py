"""The ``churn`` command line: one module per command group, wired in :mod:`serving.cli.app`."""
