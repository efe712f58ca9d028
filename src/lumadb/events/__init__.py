"""Events: triggers over the change feed, their dispatcher, sinks and live change streams."""
