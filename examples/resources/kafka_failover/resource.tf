resource "kafka_failover" "loosehanger" {
  policy = kafka_failover_policy.loosehanger.name

  # The policy's active cluster: created with it, this adopts it. Change it to
  # "europe" and apply to fail over; `terraform plan` shows the agent's
  # forecast of what the failover would lose as a warning.
  active_cluster = "north-america"

  # "planned" while north-america is healthy (fence, drain, lose nothing);
  # "forced" when it is lost (flip now, report what was never mirrored).
  mode = "planned"

  timeouts {
    update = "5m" # default: the policy's drain_timeout plus 2 minutes
  }
}

output "records_lost" {
  value = try(kafka_failover.loosehanger.report.records_lost, 0)
}
