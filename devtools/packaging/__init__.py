"""Builds what IT deploys: packages, policy templates, update metadata helpers."""
