# kafka-failover under the local name kfo: every resource and data source
# says provider = kfo, or Terraform would give it to Mongey/kafka.
# The agent's token comes from KAFKA_FAILOVER_TOKEN.
provider "kfo" {
  agent_url = var.agent_url
}

resource "kafka_cluster" "north_america" {
  provider          = kfo
  name              = "north-america"
  bootstrap_servers = var.north_america_bootstrap
}

resource "kafka_cluster" "europe" {
  provider          = kfo
  name              = "europe"
  bootstrap_servers = var.europe_bootstrap
}

# The topics Mongey/kafka creates on north-america (LH.orders) match here.
resource "kafka_mirror" "na_to_eu" {
  provider = kfo
  name     = "na-to-eu"
  source   = kafka_cluster.north_america.name
  target   = kafka_cluster.europe.name
  topics   = { include = ["LH\\..*"] }
  groups   = { include = ["consumer-.*"] }
}

resource "kafka_failover_policy" "loosehanger" {
  provider = kfo
  name     = "loosehanger"
  clusters = [kafka_cluster.north_america.name, kafka_cluster.europe.name]
  primary  = kafka_cluster.north_america.name
  mirrors  = [kafka_mirror.na_to_eu.name]
}

resource "kafka_failover" "loosehanger" {
  provider       = kfo
  policy         = kafka_failover_policy.loosehanger.name
  active_cluster = var.active_cluster
  mode           = var.mode
}

data "kafka_failover_status" "loosehanger" {
  provider   = kfo
  policy     = kafka_failover.loosehanger.policy
  depends_on = [kafka_failover.loosehanger]
}

output "active_bootstrap_servers" {
  value = kafka_failover.loosehanger.active_bootstrap_servers
}

output "epoch" {
  value = data.kafka_failover_status.loosehanger.epoch
}
