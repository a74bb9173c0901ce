"""Thin adapters to the tools users already run: Optuna (``curvecast.integrations.optuna``) and
Ray Tune (``curvecast.integrations.ray``). Each imports its framework only when imported."""
