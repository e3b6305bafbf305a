# north-america is active; the agent beside europe mirrors it there.
resource "kafka_failover_policy" "loosehanger" {
  name     = "loosehanger"
  clusters = [kafka_cluster.north_america.name, kafka_cluster.europe.name]
  primary  = kafka_cluster.north_america.name # active when the policy is created
  mirrors  = [kafka_mirror.na_to_eu.name]

  # europe is ready (and a planned failover allowed) while it lags by at most:
  max_lag_records = 1000
  max_lag_seconds = 30

  fencing       = "acl" # DENY Write ACLs on north-america during a planned failover
  drain_timeout = "60s"
}
