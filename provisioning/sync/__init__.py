"""The MIS sync, as a pipeline of stages, each in its own module; a feed line goes through them in this order:

1. feed_intake.py: the feed as received (password columns dropped by feed_secrets.py), parsed by feeds.py
   (Rollcall CSV) or oneroster.py (OneRoster 1.1), with its counts and row-level problems.
2. state.py: the school state the plan compares with, read once, and its fingerprint (fingerprint.py: the
   PostgreSQL count of writes kept by triggers).
3. sync_plan.py: the plan, one outcome per person and link (plan_item.py: the SyncPlan and its items;
   plan_newcomers.py, plan_links.py: its later stages; policy.py: what the school's policy grants and names;
   username_policy.py: usernames). On a quiet night, incremental.py plans from the feed lines that changed
   (feed_diff.py) instead.
4. guard.py: the mass-change guard; revoke_warning.py with revoke_forecast.py: the contacts it would move
   into Ready to Revoke Access.
5. apply.py: the stored plan executed, set-based (bulk.py), in one transaction.
6. notifications.py: the nominated contacts' email; starter_slips.py: the starter-code slips of new accounts.

services.py runs these stages (start a run, plan, apply); screens, the API, the Celery tasks and the scheduler
(nightly.py, which also runs the leaver timers of leavers.py) go through it. selectors.py holds the reads.
"""
