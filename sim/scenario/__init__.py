"""The scenario: everything a run needs, validated once at load (pydantic, frozen).

The defaults of every field form the *baseline* scenario (one sub-district of about forty basic
grids); figures come from ``facts.md`` where it has one, otherwise they are marked as assumptions
in ``docs/scenario-fields.md``. Load files with :func:`load_scenario`; override fields by dotted
path with :func:`apply_overrides`; every error is a :class:`ScenarioError` naming the field path
and what is allowed.

The schema is one module per section; this package re-exports every name, so
``from sim.scenario import Scenario, load_scenario`` keeps working.
"""

from __future__ import annotations

from sim.scenario.base import ALWAYS, CalendarConfig, Channel, Deadline, Window, ZoneType, _Model  # noqa: F401
from sim.scenario.base import chinese_text  # noqa: F401
from sim.scenario.city import CityConfig, Zone, _default_zones  # noqa: F401
from sim.scenario.departments import Department, _default_departments, _dept  # noqa: F401
from sim.scenario.emergency import EmergencyConfig  # noqa: F401
from sim.scenario.errors import (
                                 ScenarioError,
                                 ScenarioRefError,
                                 _allowed_fields,
                                 _format_validation,
                                 _unwrap,
)
from sim.scenario.incidents import Category, IncidentConfig, Subtype, _default_categories, _wd, _wh  # noqa: F401
from sim.scenario.load import (
                                 _is_dict_field,
                                 json_schema,
                                 load_scenario,
                                 parse_set_options,
                                 scenario_with,
                                 set_paths,
                                 validate_scenario,
)
from sim.scenario.model import Scenario  # noqa: F401
from sim.scenario.platform import ChannelConfig, EscalationConfig, PlatformConfig  # noqa: F401
from sim.scenario.policies import (
                                 AppraisalConfig,
                                 JointMeetingConfig,
                                 ResidentsConfig,
                                 SmartPlatformConfig,
                                 WorkforceConfig,
)
from sim.scenario.run import RunConfig  # noqa: F401
from sim.scenario.staffing import LevelTeams, PatrolConfig, Pay, Staffing  # noqa: F401
from sim.scenario.yamlio import (
                                 _construct_mapping,
                                 _Dumper,
                                 _represent_list,
                                 _StrictLoader,
                                 _yaml_msg,
                                 dump_yaml,
                                 parse_mapping,
                                 parse_yaml,
                                 read_mapping,
)
