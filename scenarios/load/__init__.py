"""The locustfiles (`alerts.py`, `connectwise.py`), run by locust in a process of its own, and the plain-Python
pieces they share with `cwsim load` (steps and the knee, gates, the summary). Only the locustfiles import locust."""
