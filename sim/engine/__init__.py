"""The discrete-event engine: GridModel on the SimPy clock, arrivals, the case workflow,
records, seeding."""
