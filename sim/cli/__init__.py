"""The ``gridsim`` command (Typer + Rich).

Bad input — a scenario that does not validate, an unknown ``--set`` path, a missing file — prints
one clear message per problem naming the field and what is allowed, and exits with code 2,
without a traceback and without writing anything.
"""

from __future__ import annotations

import typer

from sim.cli import calibrate, docs, drill, experiment, optimize, run, validate

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="gridsim — simulate and policy-test urban grid governance (城市网格化管理).")

app.command()(run.run)
app.command()(run.validate)
app.command()(run.schema)
app.command("app")(run.app_cmd)
experiment.register(app)  # gridsim sweep, gridsim report
optimize.register(app)  # gridsim optimize, gridsim discover
app.command("validation")(validate.validation_command)  # published vs simulated
app.command("calibrate")(calibrate.calibrate_command)  # fit a scenario to a 311 log
app.command("export-log")(calibrate.export_log_command)  # a run's cases as a 311-style log
app.command("drill")(drill.drill_command)  # emergency drill narrative and trace
app.command("docs")(docs.docs_command)  # regenerate docs/kpis.md, docs/scenario-fields.md


def main() -> None:
    app()


if __name__ == "__main__":
    main()
