"""The convcheck property suite: generated configurations checked against an oracle, an error model and laws."""
