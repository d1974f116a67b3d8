"""Settings a lead changes from Slack: the registry of what each means and how it is checked
(``registry``; earned autonomy's values in ``autonomy_settings``), change records with dry runs
and reverts (``changes``, ``dry_run``), the per-database cache and the seeding of defaults
(``cache``, ``seed``).
"""
