# After a forced failover to europe, north-america is diverged: it may hold
# records that never reached europe. Once it is back, add this resource and
# apply: its divergent tail is copied to <topic>.diverged on europe, and its
# mirrored topics are deleted and rebuilt from europe by the policy's mirror
# from europe to north-america. `terraform plan` warns what will happen.
resource "kafka_failover_reconciliation" "north_america" {
  policy  = kafka_failover.loosehanger.policy
  cluster = "north-america"

  timeouts {
    create = "15m" # default 10m
  }
}

output "records_quarantined" {
  value = kafka_failover_reconciliation.north_america.records_quarantined
}

# When the mirror from europe has caught up, fail back: set the
# kafka_failover's active_cluster to "north-america" (mode "planned").
