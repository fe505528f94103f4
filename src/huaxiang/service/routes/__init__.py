"""One router per resource: ``collect`` (Segment tracking API), ``health``, and ``profiles`` when present."""
