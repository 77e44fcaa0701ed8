"""The sidebar's look for runs alone: what an open page does by itself every few seconds while nobody touches it."""
from dashboard import frame

frame._watch_for_runs(None, None)
