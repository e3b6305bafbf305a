# A kafka_failover_reconciliation is imported as <policy>/<cluster>: the
# cluster's latest reconciliation in the policy (its quarantine and request id).
terraform import kafka_failover_reconciliation.north_america loosehanger/north-america
