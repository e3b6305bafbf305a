resource "kafka_failover" "loosehanger" {
  policy = kafka_failover_policy.loosehanger.name

  # The policy's active cluster: created with it, this adopts it. Change it to
  # "europe" and apply to fail over; `terraform plan` shows the agent's
  # forecast of what the failover would lose in the `forecast` attribute
  # (and in `terraform show -json` of the saved plan, for CI and policies).
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

# In `terraform show -json PLANFILE` a policy check can read, for example,
# resource_changes[*].change.after.forecast.records_at_risk and refuse a
# forced failover that would lose more than it allows.
