"""Policy plug-ins with a lifecycle (incentives, residents, workforce, smart platform, joint
meeting) behind one registry that the engine calls; plug-ins import the engine only for typing.
"""

from sim.policies.registry import Policies  # noqa: F401
