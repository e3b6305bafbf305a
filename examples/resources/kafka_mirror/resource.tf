resource "kafka_mirror" "na_to_eu" {
  name   = "na-to-eu"
  source = kafka_cluster.north_america.name
  target = kafka_cluster.europe.name

  topics = {
    include = ["LH\\..*"]
    exclude = ["LH\\.scratch\\..*"]
  }
  groups = {
    include = ["consumer-.*"]
  }

  replication_policy = "identity" # or "prefix": topics become "north-america.<topic>"
  start_from         = "earliest"
  refresh_interval   = "10s"
  tasks_max          = 4
}

output "na_to_eu_lag_records" {
  value = kafka_mirror.na_to_eu.lag_records
}
