"""Active learning and semi-automatic annotation (issue 15): selection, ingest, proofreading."""
