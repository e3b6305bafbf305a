# Applications keep one bootstrap setting, kafka-0.kafka.example.com:9093
# and so on, and a failover moves them: each name is a CNAME to a bootstrap
# server of the policy's active cluster, rewritten by the same apply that
# flips it (dns.tf, RFC 2136 dynamic updates through the hashicorp/dns
# provider). See README.md for the TTL trade-off.

terraform {
  required_providers {
    kafka = {
      source = "kafka-failover/kafka"
    }
  }
}

variable "agent_url" {
  type    = string
  default = "https://kafka-failover-agent.kafka-failover.svc:8443"
}

variable "north_america_bootstrap" {
  type    = list(string)
  default = ["kafka-0.north-america.example.com:9093", "kafka-1.north-america.example.com:9093", "kafka-2.north-america.example.com:9093"]
}

variable "europe_bootstrap" {
  type    = list(string)
  default = ["kafka-0.europe.example.com:9093", "kafka-1.europe.example.com:9093", "kafka-2.europe.example.com:9093"]
}

variable "active_cluster" {
  type        = string
  description = "The cluster applications use. Change it and apply: the failover and the DNS records move together."
  default     = "north-america"
}

variable "zone" {
  type        = string
  description = "The DNS zone the applications' bootstrap names live in (with the trailing dot)."
  default     = "kafka.example.com."
}

variable "bootstrap_names" {
  type        = list(string)
  description = "The names applications bootstrap from, in the zone; the i-th points at the active cluster's i-th bootstrap server (round robin when it has fewer). Both clusters must listen on the port the applications use."
  default     = ["kafka-0", "kafka-1", "kafka-2"]
}

variable "ttl" {
  type        = number
  description = "Seconds resolvers may keep a record: the longest an application's new connection may still reach the old active cluster after a failover."
  default     = 30
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
  name   = "na-to-eu"
  source = kafka_cluster.north_america.name
  target = kafka_cluster.europe.name
  topics = { include = ["LH\\..*"] }
  groups = { include = ["consumer-.*"] }
}

resource "kafka_failover_policy" "loosehanger" {
  name     = "loosehanger"
  clusters = [kafka_cluster.north_america.name, kafka_cluster.europe.name]
  primary  = kafka_cluster.north_america.name
  mirrors  = [kafka_mirror.na_to_eu.name]
  fencing  = "none"
}

resource "kafka_failover" "loosehanger" {
  policy         = kafka_failover_policy.loosehanger.name
  active_cluster = var.active_cluster
}

locals {
  # The hosts of the active cluster's bootstrap servers, port dropped (DNS
  # names hosts, not ports).
  active_hosts = [for s in kafka_failover.loosehanger.active_bootstrap_servers : regex("^(.+):[0-9]+$", s)[0]]
  # Record name -> the host it points at, fully qualified.
  bootstrap_records = {
    for i, name in var.bootstrap_names : name => "${trimsuffix(element(local.active_hosts, i), ".")}."
  }
}

output "bootstrap_records" {
  description = "The CNAME records: name in var.zone -> the active cluster's host."
  value       = local.bootstrap_records
}
