"""Developer tooling shared by the tests, the demo launcher and cordon-bench.

Installed with the source tree for development; workstation installers leave it out.
"""
