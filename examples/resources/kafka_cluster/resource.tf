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

# Mutual TLS: the client key is write-only too (Terraform 1.11 and later), so
# it never reaches the state; an ephemeral variable keeps it out of the plan
# as well. Raise key_pem_wo_version to send a new key.
variable "asia_client_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "kafka_cluster" "asia" {
  name              = "asia"
  bootstrap_servers = ["asia-kafka-1:9093"]
  tls = {
    ca_pem             = file("asia-ca.crt")
    cert_pem           = file("mirror.crt")
    key_pem_wo         = var.asia_client_key
    key_pem_wo_version = 1
  }
}
