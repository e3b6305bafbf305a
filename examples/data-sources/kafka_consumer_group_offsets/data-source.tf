data "kafka_consumer_group_offsets" "southamerica" {
  mirror = "na-to-eu"
  group  = "consumer-southamerica"
}

# What the group would miss after a failover now.
output "records_not_mirrored" {
  value = data.kafka_consumer_group_offsets.southamerica.records_not_mirrored
}
