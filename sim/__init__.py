"""gridsim: simulate and policy-test urban grid governance (城市网格化管理)."""

from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.version import __version__

__all__ = ["Scenario", "ScenarioError", "load_scenario", "__version__", "run_scenario"]


def __getattr__(name: str):
    if name == "run_scenario":
        from sim.run import run_scenario

        return run_scenario
    raise AttributeError(name)
