"""The pipeline (received → assessed → routed → executed or asked), the worker loop that keeps
items moving, and the APScheduler sweeps.
"""
