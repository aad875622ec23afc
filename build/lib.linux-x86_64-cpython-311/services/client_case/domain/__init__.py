"""The client-case rules: plain Python, no framework imports (ASSIST scoring in `assist`)."""
