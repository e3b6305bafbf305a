# kafka-failover beside Mongey/kafka in one configuration.
#
# Both providers name their resource types kafka_*, and Terraform picks a
# resource's provider from that prefix: the local name "kafka" goes to
# Mongey/kafka (topics, ACLs, quotas), this provider gets another local name
# (kfo), and every one of its resources and data sources says provider = kfo.
terraform {
  required_providers {
    kafka = {
      source = "Mongey/kafka"
    }
    kfo = {
      source = "kafka-failover/kafka"
    }
  }
}
