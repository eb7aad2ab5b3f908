"""Alerts: rules, events, topology correlation, silences, notifications."""
