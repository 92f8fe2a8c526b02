"""Qt-free HTTP client for the Cordon server."""
