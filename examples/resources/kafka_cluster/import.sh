# A cluster is imported by its name. Secrets are not returned by the agent:
# set password_wo (or password) in the configuration after importing.
terraform import kafka_cluster.north_america north-america
