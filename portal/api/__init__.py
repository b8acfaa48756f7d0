"""Vigil's JSON API, version 1 (issue 16): security staff's scripts, SIEMs and playbooks."""
