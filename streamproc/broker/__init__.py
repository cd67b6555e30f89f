"""Local brokers: the embedded Tansu default and a single-node Apache Kafka (KRaft) for tests."""
