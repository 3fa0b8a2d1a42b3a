"""`isodemo run`: a small container runtime made of the pieces the demos show (container/runtime.py)."""
