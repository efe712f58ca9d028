"""The composition root: a node's start-up, its HTTP workers and their shutdown."""
