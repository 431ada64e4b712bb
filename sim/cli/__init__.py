"""The ``gridsim`` command (Typer + Rich).

Bad input — a scenario that does not validate, an unknown ``--set`` path, a missing file — prints
one clear message per problem naming the field and what is allowed, and exits with code 2,
without a traceback and without writing anything.
"""

from __future__ import annotations

import typer

from sim.cli import (calibrate, docs, drill, experiment, exportlog, map, optimize, replay, run,
                     validate)

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
app.command("export-log")(exportlog.export_log_command)  # a run's cases as a log
app.command("replay")(replay.replay_command)  # a log's own requests under a scenario
app.command("drill")(drill.drill_command)  # emergency drill narrative and trace
app.command("docs")(docs.docs_command)  # regenerate docs/kpis.md, docs/scenario-fields.md
app.command("map")(map.map_command)  # a run's grids coloured by a KPI (HTML, PNG, SVG)


def main() -> None:
    """The ``gridsim`` entry point: whatever happens, a message, never a traceback.

    A closed pipe (``gridsim report --format csv | head``) ends quietly; a file that cannot be
    written (disk full, no permission) is a one-line error with exit code 2; anything else is
    a bug in gridsim: one line on the terminal and the traceback in a log file to report.
    """
    import os
    import sys
    import tempfile
    import traceback
    from pathlib import Path

    from sim.cli.common import print_error

    try:
        app()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        sys.exit(0)
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print_error(f"{where}{err.strerror or err}")
        sys.exit(2)
    except Exception as err:  # noqa: BLE001 - the last line of defence, logged in full
        log = Path(tempfile.gettempdir()) / f"gridsim-error-{os.getpid()}.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        print_error(f"internal error ({type(err).__name__}: {err}); this is a bug in gridsim — "
                    f"the details are in {log}")
        sys.exit(1)


if __name__ == "__main__":
    main()
