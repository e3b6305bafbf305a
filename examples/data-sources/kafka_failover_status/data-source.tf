data "kafka_failover_status" "loosehanger" {
  policy = "loosehanger"

  # Read after the kafka_failover is applied, so that an apply that fails
  # over shows the new active cluster, not the one before it.
  depends_on = [kafka_failover.loosehanger]
}

# Where applications connect now.
output "active_bootstrap_servers" {
  value = data.kafka_failover_status.loosehanger.active_bootstrap_servers
}

# Could europe take over with a planned failover now?
output "europe_ready" {
  value = one([for s in data.kafka_failover_status.loosehanger.standbys : s.ready if s.cluster == "europe"])
}
