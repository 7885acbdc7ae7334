# A balancer in front of the web hosts, and a zero-downtime rolling deploy.
#
#   drover apply -i inventory.hcl examples/stacks --var release=v2
#
# The inventory has a group "lb" (one host), a group "cache" (the Redis
# instances' hosts) and a group "web" whose hosts
# each set the host variable http_port. The web hosts are deployed one at a
# time: each is put in maintenance on the balancer (delegate_to its host),
# waits for its open requests, deploys and passes its health check, then
# is put back. A release failing its health check is switched back on its
# host and the rollout stops there, that host still out of the balancer.

variable "release" {
  type        = string
  default     = "v1"
  description = "The release of the sample app to deploy: a directory of webapp/releases/."
}

variable "lb_port" {
  type    = number
  default = 8000
}

variable "stats_port" {
  type    = number
  default = 8404
}

variable "cache_port" {
  type        = number
  default     = 6380
  description = "Port of the first Redis instance of the cache hosts; the second takes the next one."
}

locals {
  balancer = inventory.groups["lb"][0]
  socket   = "/run/haproxy/admin.sock"
  stats    = "curl -fsS 'http://127.0.0.1:${var.stats_port}/stats;csv'"
}

play "balancer" {
  hosts = "lb"

  stack "lb" {
    source     = "./haproxy"
    port       = var.lb_port
    stats_port = var.stats_port
    group      = "web"
  }
}

# Two Redis instances from one definition on the cache hosts.
play "cache" {
  hosts = "cache"

  stack "redis" {
    source    = "./redis"
    instances = { sessions = var.cache_port, jobs = var.cache_port + 1 }
  }
}

play "web" {
  hosts    = "web"
  serial   = 1
  max_fail = 0

  # Skipped when the host already serves this release: a run that deploys
  # nothing drains nothing.
  command "drain" {
    run = ["sh", "-c", <<-EOT
      echo 'set server web/${host.name} state maint' | socat stdio ${local.socket}
      i=0
      while [ "$(${local.stats} | awk -F, '$1 == "web" && $2 == "${host.name}" { print $5 }')" != 0 ] && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
      done
    EOT
    ]
    unless      = "curl -fsS http://${host.address}:${host.vars.http_port}/version | grep -qx '${trimspace(file("webapp/releases/${var.release}/VERSION"))}'"
    delegate_to = local.balancer
  }

  stack "app" {
    source     = "./webapp"
    source_dir = "releases/${var.release}" # in the stack's directory: a stack reads only its own files
    port       = host.vars.http_port
    depends_on = [command.drain]
  }

  command "enable" {
    run         = ["sh", "-c", "echo 'set server web/${host.name} state ready' | socat stdio ${local.socket}"]
    unless      = "! ${local.stats} | awk -F, '$1 == \"web\" && $2 == \"${host.name}\" { print $18 }' | grep -q MAINT"
    delegate_to = local.balancer
    depends_on  = [stack.app]
  }
}
