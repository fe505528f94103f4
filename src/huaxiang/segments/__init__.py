"""Segments: the RFM map and 8 cells (:mod:`~huaxiang.segments.rfm`), K-means clusters with stable ids
(:mod:`~huaxiang.segments.clusters`), persona cards (:mod:`~huaxiang.segments.personas`); the stage
(:mod:`~huaxiang.segments.stage`) writes ``segments``, ``persona_cards`` and ``cluster_report``.
Settings: :mod:`~huaxiang.segments.settings`."""
