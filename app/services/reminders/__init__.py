"""Reminders: the daily wellness reminder at the team's local time and the sRPE reminder
some minutes after each session, as ``reminder.due`` events and emails, each at most once
per (member, kind, day or session) through the unique key of ``reminders``.

:mod:`.due` works in the caller's transaction (one team at a time, a few statements per
team whatever its size); :mod:`.jobs` owns the transactions, one per team.
"""
