# Mongey/kafka under its usual local name: the topic and the producer's ACL
# on the active cluster. Its resources need no provider argument.
provider "kafka" {
  bootstrap_servers = var.north_america_bootstrap
  tls_enabled       = true
}

resource "kafka_topic" "orders" {
  name               = "LH.orders"
  partitions         = 12
  replication_factor = 3
  config = {
    "retention.ms" = "604800000"
  }
}

# fencing = "acl" (the policy's default) denies Write during a planned
# failover to each principal an ALLOW Write ACL names, such as this one.
resource "kafka_acl" "shop_writes_orders" {
  resource_name       = kafka_topic.orders.name
  resource_type       = "Topic"
  acl_principal       = "User:shop"
  acl_host            = "*"
  acl_operation       = "Write"
  acl_permission_type = "Allow"
}
