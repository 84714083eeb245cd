"""The ``churn`` command-line tool: every command group wired into one app, with one error handler.

The commands are thin layers over the library functions, one module per group:
:mod:`~serving.cli.data` (validate, features, simulate), :mod:`~serving.cli.train`
(train, report, promote, rollback), :mod:`~serving.cli.score`,
:mod:`~serving.cli.lists` (list, campaign report), :mod:`~serving.cli.report` (the training report, the nightly dashboard, retention), :mod:`~serving.cli.serve`
(import-model, serve) and :mod:`~serving.cli.demo`.

Expected errors (:class:`features.errors.ChurnError`, pydantic validation
errors of the options, and a dependency's own exceptions such as a broken
registry database) become one line per problem on stderr and the error's exit
code (:func:`handled`); nothing is written when a command fails. Exit codes
(``EXIT_CODES``, the table in docs/operations.md): 0 success, 1 unexpected failure, 2 bad input
(options, a dataset that breaks the data contract, an as_of outside the data),
3 a model that is not there or whose files are damaged, 4 a failed check, 5 the
score store is busy (a publish holds it), 6 a dependency is broken or
unreachable (score store, registry), 7 nothing to score (every population empty).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import typer
from pydantic import ValidationError
from typer.exceptions import TyperException

from features.errors import ChurnError
from serving.cli import data, demo, lists, report, score, serve, train
from serving.cli.console import err, error
from serving.errors import config_error, dependency_fault, option_name

EXIT_CODES = {
    0: "success",
    1: "unexpected failure",
    2: "bad input",
    3: "model missing or damaged",
    4: "check failed",
    5: "score store busy",
    6: "dependency broken or unreachable",
    7: "nothing to score",
}

app = typer.Typer(
    name="churn",
    help="Churn prediction and retention: simulate and validate datasets, build point-in-time features, train and promote models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
report_app = typer.Typer(
    help="Reports: a training run's (no subcommand), the nightly dashboard (`churn report nightly`) or retention by cohort and segment (`churn report retention`)."
)
campaign_app = typer.Typer(help="Campaign readouts: what a coupon campaign bought, against its control group.", no_args_is_help=True)


def handled(command: Callable) -> Callable:
    """``command`` with the CLI's one error handler: a project error or an invalid option is one line per problem and its exit code."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ValidationError as e:
            failure = config_error(e, option_name)
        except ChurnError as e:
            failure = e
        except Exception as e:  # a dependency's own exception (the registry's database): one line too
            fault = dependency_fault(e)
            if fault is None:
                raise
            failure = fault
        for line in failure.lines():
            error(line)
        raise typer.Exit(failure.exit_code)

    return run


# In the order `churn --help` lists them.
app.command()(handled(data.validate))
app.command()(handled(data.features))
app.command()(handled(train.train))
report_app.callback(invoke_without_command=True)(handled(report.training))
report_app.command("nightly")(handled(report.nightly))
report_app.command("retention")(handled(report.retention_report))
app.add_typer(report_app, name="report")
app.command()(handled(train.promote))
app.command()(handled(train.rollback))
app.command()(handled(score.score))
app.command("list")(handled(lists.list_))
campaign_app.command("report")(handled(lists.campaign_report))
app.add_typer(campaign_app, name="campaign")
app.command()(handled(data.simulate))
app.command()(handled(demo.demo))
app.command("import-model")(handled(serve.import_model))
app.command()(handled(serve.serve))


def main() -> None:
    """Entry point of the ``churn`` script: usage errors too are one line, with exit code 2."""
    try:
        code = app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        sys.exit(130)
    except TyperException as e:  # Click's usage errors: unknown command or option, bad value
        if not hasattr(e, "format_message"):
            raise
        path = getattr(getattr(e, "ctx", None), "command_path", "") or ""
        command = " ".join(["churn", *path.split(" ")[1:]])  # the program name may be a path
        if not e.format_message():  # no arguments at all: the help was shown
            sys.exit(getattr(e, "exit_code", 2) or 2)
        error(f"{e.format_message()} (see: {command} --help)")
        sys.exit(getattr(e, "exit_code", 2) or 2)
    sys.exit(code if isinstance(code, int) else 0)
