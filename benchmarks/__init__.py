"""Side-by-side benchmarks of fireworks-training; ``python -m benchmarks.run`` runs them all."""
