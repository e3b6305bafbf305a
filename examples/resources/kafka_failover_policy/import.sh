# A policy is imported by its name.
terraform import kafka_failover_policy.loosehanger loosehanger
