"""A platform that cannot keep up must look like one: one operator with 1.5 h screening
(baseline, seed 3, 14 days) — the headline KPIs once said 100% closed in 0.29 h."""

from __future__ import annotations

from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with

OVERLOAD = {"platform.operators": 1,
            "platform.screening_time": {"dist": "lognormal", "mean": 1.5, "cv": 0.5}}


def test_overloaded_platform_shows_in_the_headline_kpis():
    def kpis(over):
        return run_scenario(scenario_with(Scenario(), {"run.days": 14, **over}), seed=3,
                            keep_cases=False).kpis
    normal, over = kpis({}), kpis(OVERLOAD)
    assert normal["closure_rate"] > 0.95 and normal["timely_acceptance_rate"] > 0.95
    assert over["closure_rate"] < 0.5
    assert over["timely_acceptance_rate"] < 0.5
    assert over["p50_time_to_close_h"] > 5 * normal["p50_time_to_close_h"]
    assert over["on_time_rate"] < normal["on_time_rate"] - 0.3
    assert over["composite_appraisal_score"] < normal["composite_appraisal_score"] - 20
