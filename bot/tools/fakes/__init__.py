"""In-process fakes of external platforms, for tests and local simulation."""
