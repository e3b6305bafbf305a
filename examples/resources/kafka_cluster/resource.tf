variable "mirror_password" {
  type      = string
  sensitive = true
}

# Terraform 1.11 and later: the password is write-only, never stored in state.
# Raise password_wo_version to send a new password.
resource "kafka_cluster" "north_america" {
  name              = "north-america"
  bootstrap_servers = ["na-kafka-1:9093", "na-kafka-2:9093"]
  sasl = {
    mechanism           = "SCRAM-SHA-512"
    username            = "mirror"
    password_wo         = var.mirror_password
    password_wo_version = 1
  }
  tls = {
    ca_pem = file("na-ca.crt")
  }
}

# The cluster the agent runs beside, without authentication.
resource "kafka_cluster" "europe" {
  name              = "europe"
  bootstrap_servers = ["eu-kafka-1:9092"]
}

# Mutual TLS: the client key is write-only too (Terraform 1.11 and later).
# Raise key_pem_wo_version to send a new key.
resource "kafka_cluster" "south_america" {
  name              = "south-america"
  bootstrap_servers = ["sa-kafka-1:9093"]
  tls = {
    ca_pem             = file("sa-ca.crt")
    cert_pem           = file("client.crt")
    key_pem_wo         = file("client.key")
    key_pem_wo_version = 1
  }
}
