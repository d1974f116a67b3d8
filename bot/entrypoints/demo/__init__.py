"""The bundled demo: sample tickets and the runner that routes them through the pipeline."""
