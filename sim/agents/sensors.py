"""IoT sensors and video in one grid (S2.2, S5.2): detect the categories they can see."""

from __future__ import annotations

import mesa

from sim.agents.base import GridAgent


class SensorStation(GridAgent):
    def __init__(self, model: mesa.Model, grid: int, sensor: bool, video: bool):
        super().__init__(model)
        self.grid = grid
        self.sensor = sensor
        self.video = video
        self.detections = 0
