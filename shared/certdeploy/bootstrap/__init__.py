"""The composition root: settings and the container every runtime builds once per process."""
