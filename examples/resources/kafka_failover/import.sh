# A kafka_failover is imported by its policy's name; it adopts the policy's
# current active cluster.
terraform import kafka_failover.loosehanger loosehanger
