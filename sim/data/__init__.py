"""Data in and out of the model: service-request logs, calibration, validation against
published figures, queueing theory."""
