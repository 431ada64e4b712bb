"""The root of the schema: :class:`Scenario`, whose defaults are the baseline.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import CalendarConfig, _Model, chinese_text
from sim.scenario.city import CityConfig
from sim.scenario.departments import Department, _default_departments
from sim.scenario.emergency import EmergencyConfig
from sim.scenario.errors import ScenarioRefError
from sim.scenario.incidents import IncidentConfig
from sim.scenario.platform import ChannelConfig, PlatformConfig
from sim.scenario.policies import (
    AppraisalConfig,
    JointMeetingConfig,
    ResidentsConfig,
    SmartPlatformConfig,
    WorkforceConfig,
    periodic_warnings,
)
from sim.scenario.run import RunConfig
from sim.scenario.staffing import PatrolConfig, Staffing
from sim.scenario.yamlio import dump_yaml


#: the scenario's name and description for people in the app, beside ``name``/``description``
DISPLAY_FIELDS = ("label", "label_zh", "description_zh")


class Scenario(_Model):
    """A whole scenario. ``Scenario()`` is the baseline; see ``scenarios/*.yaml``."""

    name: str = "baseline"
    label: str = Field(default="", max_length=80,
                       description="the scenario's name for people, in the app (empty: the name)")
    label_zh: str = Field(default="", max_length=80,
                          description="the scenario's name in 中文, in the app (empty: label)")
    description: str = "One sub-district of about forty basic grids, staffed at common levels."
    description_zh: str = Field(default="", max_length=1000,
                                description="the description in 中文, in the app")
    city: CityConfig = CityConfig()
    calendar: CalendarConfig = CalendarConfig()
    staffing: Staffing = Staffing()
    patrol: PatrolConfig = PatrolConfig()
    incidents: IncidentConfig = IncidentConfig()
    channels: ChannelConfig = ChannelConfig()
    departments: dict[str, Department] = Field(default_factory=_default_departments, min_length=1)
    platform: PlatformConfig = PlatformConfig()
    residents: ResidentsConfig = ResidentsConfig()
    appraisal: AppraisalConfig = AppraisalConfig()
    workforce: WorkforceConfig = WorkforceConfig()
    joint_meeting: JointMeetingConfig = JointMeetingConfig()
    smart_platform: SmartPlatformConfig = SmartPlatformConfig()
    emergency: EmergencyConfig = EmergencyConfig()
    run: RunConfig = RunConfig()

    _chinese = field_validator("label_zh", "description_zh")(
        classmethod(lambda cls, v: chinese_text(v)))

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        for cname, cat in self.incidents.categories.items():
            for sname, sub in cat.subtypes.items():
                dep = sub.department or cat.department
                where = (f"incidents.categories.{cname}.subtypes.{sname}.department"
                         if sub.department else f"incidents.categories.{cname}.department")
                if dep not in self.departments:
                    raise ScenarioRefError(where, f"unknown department {dep!r}; allowed: "
                                           + ", ".join(sorted(self.departments)))
                if self.departments[dep].crews_per_street < 1:
                    raise ScenarioRefError(
                        f"departments.{dep}.crews_per_street",
                        f"department {dep!r} handles {cname}.{sname} and needs at least 1 crew")
                for p in sub.partners:
                    where = f"incidents.categories.{cname}.subtypes.{sname}.partners"
                    if p not in self.departments or p == dep or sub.partners.count(p) > 1:
                        raise ScenarioRefError(where, f"partner {p!r} must be a department other "
                                               "than the responsible one, named once; allowed: "
                                               + ", ".join(sorted(set(self.departments) - {dep})))
                    if self.departments[p].crews_per_street < 1:
                        raise ScenarioRefError(
                            f"departments.{p}.crews_per_street",
                            f"department {p!r} acts on {cname}.{sname} and needs at least 1 crew")
        for path, msg in self.emergency.reference_problems(self.departments):
            raise ScenarioRefError(path, msg)
        geo = self.city.geometry
        if geo is not None and geo.surfaces:
            from sim.scenario.surfaces import FIELD, read_surfaces

            unknown = sorted(set(read_surfaces(geo.surfaces)) - set(self.incidents.categories))
            if unknown:
                raise ScenarioRefError(FIELD, f"category {unknown[0]!r} of {geo.surfaces} is not "
                                              "in incidents.categories; allowed: "
                                              + ", ".join(sorted(self.incidents.categories)))
        return self

    def warnings(self) -> list[tuple[str, str]]:
        """(field, message) for settings that are valid but will not act in this run: a
        periodic policy switched on that the run's length lets act never (the app shows them
        beside the run length; ``gridsim run`` prints them)."""
        return periodic_warnings(self)

    def hash(self) -> str:
        """Stable content hash of the scenario (provenance): its fields and the content of every
        file it names (a map's files count by their sha256, wherever they lie). The names for
        people in the app (:data:`DISPLAY_FIELDS`) are left out: they change no run, and stores
        written before they existed keep their hashes."""
        data = self.model_dump(mode="json", by_alias=True, exclude=set(DISPLAY_FIELDS))
        if self.city.geometry is None:
            del data["city"]["geometry"]  # a synthetic city keeps the hash it always had
        else:
            data["files"] = {k: v["sha256"] for k, v in self.files().items()}
            data["city"]["geometry"] = _without_paths(data["city"]["geometry"])
        blob = json.dumps(data, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def files(self) -> dict[str, dict[str, str]]:
        """Every file the scenario names: {field path: {"path", "sha256"}} (for the manifest)."""
        from sim.scenario.mapfiles import check_file, sha256

        geo = self.city.geometry
        if geo is None:
            return {}
        out = {}
        for field, path in geo.files().items():
            check_file(path, field)
            out[field] = {"path": path, "sha256": sha256(path)}
        return out

    def to_yaml(self) -> str:
        return dump_yaml(self.model_dump(mode="json", by_alias=True))




def _without_paths(node):
    """A map section with its file paths left out (their content is hashed instead)."""
    if isinstance(node, dict):
        return {k: _without_paths(v) for k, v in node.items() if k not in ("file", "roads", "surfaces")}
    return node
