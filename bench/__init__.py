"""Benchmarks, each against a raw baseline in the same run: `python -m bench NAME`
(`make bench` runs them all). See bench/common.py for how one is written."""
