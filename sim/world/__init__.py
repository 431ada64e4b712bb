"""The world a run happens in: the city (grids and the administrative hierarchy), the
working calendar, patrol beats."""
