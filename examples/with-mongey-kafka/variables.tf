variable "agent_url" {
  type        = string
  description = "The kafka-failover agent beside europe."
  default     = "https://agent.europe:8443"
}

variable "north_america_bootstrap" {
  type    = list(string)
  default = ["kafka.north-america:9093"]
}

variable "europe_bootstrap" {
  type    = list(string)
  default = ["kafka.europe:9093"]
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
