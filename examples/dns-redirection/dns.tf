# The records themselves, written by RFC 2136 dynamic updates signed with a
# TSIG key (BIND, Knot, PowerDNS, Windows DNS accept them). Every apply that
# changes kafka_failover.loosehanger.active_bootstrap_servers rewrites them.

terraform {
  required_providers {
    dns = {
      source  = "hashicorp/dns"
      version = "~> 3.4"
    }
  }
}

variable "dns_server" {
  type        = string
  description = "The primary name server of var.zone, which accepts signed updates."
  default     = "ns1.example.com"
}

variable "tsig_key_name" {
  type    = string
  default = "kafka-failover."
}

variable "tsig_key_secret" {
  type        = string
  description = "The TSIG key's base64 secret; give it through TF_VAR_tsig_key_secret."
  sensitive   = true
}

provider "dns" {
  update {
    server        = var.dns_server
    key_name      = var.tsig_key_name
    key_algorithm = "hmac-sha256"
    key_secret    = var.tsig_key_secret
  }
}

resource "dns_cname_record" "bootstrap" {
  for_each = local.bootstrap_records
  zone     = var.zone
  name     = each.key
  cname    = each.value
  ttl      = var.ttl
}
