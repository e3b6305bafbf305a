# The reference scenario: applications in south-america use the active
# cluster in north-america; the agent in europe keeps a standby copy of their
# topics (LH.*) and of their consumer groups' offsets (consumer-*).
resource "kafka_mirror" "na_to_eu" {
  name   = "na-to-eu"
  source = kafka_cluster.north_america.name
  target = kafka_cluster.europe.name

  topics = {
    include = ["LH\\..*"]
    exclude = ["LH\\.scratch\\..*"]
  }

  # Groups whose committed offsets are translated to europe's offsets and
  # stored there, so that they resume on europe after a failover.
  groups = {
    include = ["consumer-.*"]
  }
  checkpoint_interval = "1s" # how often their offsets are checkpointed
  sync_group_offsets  = true # and committed to the groups idle on europe

  replication_policy = "identity" # or "prefix": topics become "north-america.<topic>"
  start_from         = "earliest"
  refresh_interval   = "10s"
  tasks_max          = 4
}

output "na_to_eu_lag_records" {
  value = kafka_mirror.na_to_eu.lag_records
}
