"""Build Cordon's installers from the one source tree and the one policy schema."""
