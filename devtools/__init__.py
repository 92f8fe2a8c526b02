"""Developer tooling shared by the tests and the demo launcher (never shipped)."""
