"""What you run: the ``python -m bot`` CLI, the ASGI server, a worker's health endpoint, the
background half of a process, the demo and the routing eval. The only code that imports
``handlers``: it wires the edges to the core.
"""
