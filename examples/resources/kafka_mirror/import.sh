# A mirror is imported by its name.
terraform import kafka_mirror.na_to_eu na-to-eu
