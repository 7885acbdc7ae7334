# redis: several Redis instances on one host from one definition, each with
# its own port, configuration and data directory, run by one systemd
# template unit (redis-stack@.service here; its instances
# redis-stack@NAME.service). Debian's default redis-server service is
# stopped and disabled, so that only the declared instances run.

variable "instances" {
  type        = map(number)
  description = "Instance name => port (on 127.0.0.1), e.g. { sessions = 6380, jobs = 6381 }."
}

variable "maxmemory" {
  type        = string
  default     = "64mb"
  description = "Each instance's maxmemory (evicting least recently used keys beyond it)."
}

variable "service" {
  type        = string
  default     = "redis-stack"
  description = "Name of the systemd template unit."
}

package "redis" {
  names        = ["redis-server"]
  update_cache = true
}

# The package's install starts Debian's own instance (port 6379). A task
# after it reads the service's state again once the install ran (a package
# change makes later reads stale), so this sees it running and stops it.
service "default_off" {
  name       = "redis-server"
  state      = "stopped"
  enabled    = false
  depends_on = [package.redis]
}

# Not /etc/redis: Debian makes that directory the redis user's, and drover
# running as root does not write where a less privileged user could swap
# the path.
directory "conf" {
  path = "/etc/${var.service}"
  mode = "0755"
}

directory "data" {
  for_each   = var.instances
  path       = "/var/lib/redis/${each.key}"
  owner      = "redis"
  group      = "redis"
  mode       = "0750"
  depends_on = [package.redis]
}

template "conf" {
  for_each   = var.instances
  source     = "templates/redis.conf.tftpl"
  path       = "${directory.conf.path}/${each.key}.conf"
  owner      = "root"
  group      = "redis"
  mode       = "0640"
  vars       = { port = each.value, dir = "/var/lib/redis/${each.key}", maxmemory = var.maxmemory }
  depends_on = [directory.data, directory.conf]
  notify     = [handler.restart]
}

init_service "redis" {
  name        = var.service
  instances   = keys(var.instances)
  description = "Redis (recipe book)"
  command     = "/usr/bin/redis-server /etc/${var.service}/${instance}.conf"
  config_test = "/usr/bin/test -r /etc/${var.service}/${instance}.conf"
  user        = "redis"
  create_user = false
  limits      = { nofile = 10032 }
  depends_on  = [template.conf, directory.data]
}

# Redis re-reads its configuration file only when it starts.
handler "restart" {
  init_service {
    name      = var.service
    instances = keys(var.instances)
    state     = "restarted"
  }
}

output "ports" {
  value       = var.instances
  description = "Instance name => port."
}

output "units" {
  value       = [for n in keys(var.instances) : "${var.service}@${n}.service"]
  description = "The systemd units of the instances."
}
