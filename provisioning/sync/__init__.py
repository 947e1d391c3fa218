"""The MIS sync engine: feeds in (feeds.py, oneroster.py), a plan out (plan.py), the plan applied (apply.py).

Services in provisioning/services.py are the only callers; screens, the API and tasks go through them.
"""
