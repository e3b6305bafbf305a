# The reference scenario: applications in south-america use the active
# cluster in north-america; the agent beside europe keeps a mirror of the
# LH.* topics and the consumer-* groups. Losing north-america is one apply:
#
#   terraform apply -var active_cluster=europe -var mode=forced
#
# Run against the demo's clusters with a dev_overrides CLI configuration
# (see docs/index.md); `make demo` does all of it.

terraform {
  required_providers {
    kafka = {
      source = "kafka-failover/kafka"
    }
  }
}

variable "agent_url" {
  type        = string
  description = "The agent beside europe."
  default     = "http://127.0.0.1:18080"
}

variable "north_america_bootstrap" {
  type    = list(string)
  default = ["127.0.0.1:19092"]
}

variable "europe_bootstrap" {
  type    = list(string)
  default = ["127.0.0.1:29092"]
}

variable "active_cluster" {
  type        = string
  description = "The cluster applications use. Change it and apply: that is the failover."
  default     = "north-america"
}

variable "mode" {
  type        = string
  description = "planned while the active cluster is reachable; forced when its region is lost."
  default     = "planned"
}

variable "reconcile" {
  type        = set(string)
  description = "Clusters a forced failover left behind to reconcile, once they are back: their divergent tail is quarantined and they are rebuilt."
  default     = []
}

# The token comes from KAFKA_FAILOVER_TOKEN.
provider "kafka" {
  agent_url = var.agent_url
}

resource "kafka_cluster" "north_america" {
  name              = "north-america"
  bootstrap_servers = var.north_america_bootstrap
}

resource "kafka_cluster" "europe" {
  name              = "europe"
  bootstrap_servers = var.europe_bootstrap
}

resource "kafka_mirror" "na_to_eu" {
  name                = "na-to-eu"
  source              = kafka_cluster.north_america.name
  target              = kafka_cluster.europe.name
  topics              = { include = ["LH\\..*"] }
  groups              = { include = ["consumer-.*"] }
  replication_policy  = "identity"
  checkpoint_interval = "1s"
  refresh_interval    = "2s"
}

# The way back: when north-america returns after a forced failover, a
# kafka_failover_reconciliation quarantines its divergent tail on europe and
# rebuilds it from europe through this mirror. It copies nothing while
# north-america is active.
resource "kafka_mirror" "eu_to_na" {
  name                = "eu-to-na"
  source              = kafka_cluster.europe.name
  target              = kafka_cluster.north_america.name
  topics              = { include = ["LH\\..*"], exclude = ["LH\\..*\\.diverged"] }
  groups              = { include = ["consumer-.*"] }
  replication_policy  = "identity"
  start_from          = "earliest"
  checkpoint_interval = "1s"
  refresh_interval    = "2s"
}

resource "kafka_failover_policy" "loosehanger" {
  name     = "loosehanger"
  clusters = [kafka_cluster.north_america.name, kafka_cluster.europe.name]
  primary  = kafka_cluster.north_america.name
  mirrors  = [kafka_mirror.na_to_eu.name, kafka_mirror.eu_to_na.name]
  # The demo's clusters have no authorizer to fence with: producers are
  # stopped by the applications themselves before a planned failover.
  fencing         = "none"
  max_lag_records = 100000
}

resource "kafka_failover" "loosehanger" {
  policy         = kafka_failover_policy.loosehanger.name
  active_cluster = var.active_cluster
  mode           = var.mode
}

# After a forced failover, once the old active cluster is back:
#   terraform apply -var 'reconcile=["north-america"]' ...
# then, when eu-to-na has caught up, fail back with a planned failover.
resource "kafka_failover_reconciliation" "back" {
  for_each = var.reconcile
  policy   = kafka_failover.loosehanger.policy
  cluster  = each.key
}

output "active_cluster" {
  value = kafka_failover.loosehanger.active_cluster
}

output "epoch" {
  value = kafka_failover.loosehanger.epoch
}

output "records_lost" {
  value = try(kafka_failover.loosehanger.report.records_lost, 0)
}

# records_lost is exact as of this moment: when the old active last answered.
output "source_last_contact" {
  value = try(kafka_failover.loosehanger.report.source_last_contact, "")
}

output "records_quarantined" {
  value = sum(concat([0], [for r in kafka_failover_reconciliation.back : r.records_quarantined]))
}
