"""The ``/signoff`` subcommands: the registry (``registry``), the queue commands (``queue``),
setting changes (``settings``) and earned autonomy (``autonomy``).
"""
