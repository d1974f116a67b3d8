"""Numbers for leads and operators: ``/signoff stats``, edit rates and sizes, Prometheus metrics."""
