terraform {
  required_providers {
    kafka = {
      source  = "kafka-failover/kafka"
      version = "~> 0.1"
    }
  }
}

# The agent runs beside the standby cluster. Keep the token out of the
# configuration: export KAFKA_FAILOVER_TOKEN instead of setting token here.
provider "kafka" {
  agent_url       = "https://agent.europe:8443"
  ca_pem          = file("agent-ca.crt")
  retry_max       = 4
  request_timeout = "30s"
}
