"""How a user proves who they are to the Cordon server (demo today, SSO next)."""
