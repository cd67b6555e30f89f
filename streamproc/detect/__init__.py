"""Pure detection cores: no Kafka, no Faust. Stages call these; so do `check`, `train` and `eval`."""
