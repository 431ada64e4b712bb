"""Mesa agents: one module per kind of actor. Their behaviour runs as SimPy processes."""

from sim.agents.departments import Department
from sim.agents.residents import ResidentGroup
from sim.agents.sensors import SensorStation
from sim.agents.staff import GridAssistant, GridManager, GridWorker, LevelTeam

__all__ = ["Department", "GridAssistant", "GridManager", "GridWorker", "LevelTeam",
           "ResidentGroup", "SensorStation"]
