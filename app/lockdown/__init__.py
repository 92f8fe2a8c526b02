"""Lockdown: managed policy, process hardening and screen-capture guards (Qt-free).

The Qt side (event filter, curtain, watermark, accessibility redaction) lives
in :mod:`app.ui.lockdown`; it calls into these modules with plain window
handles, so every OS call path here can be tested with injected fakes.
"""
