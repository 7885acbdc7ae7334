# haproxy: an HTTP load balancer whose backends are the hosts of an
# inventory group (address and the host variable http_port), with a
# read-only CSV stats page and an admin socket for draining servers.

variable "port" {
  type        = number
  default     = 80
  description = "Port the balancer listens on, on 127.0.0.1."
}

variable "stats_port" {
  type        = number
  default     = 8404
  description = "Port of the read-only stats page (/stats;csv), on 127.0.0.1."
}

variable "group" {
  type        = string
  default     = "web"
  description = "Inventory group whose hosts are the backends; each needs the host variable http_port."
}

locals {
  backends = [for h in inventory.groups[var.group] : {
    name = h
    addr = "${inventory.hosts[h].address}:${inventory.hosts[h].vars.http_port}"
  }]
}

package "haproxy" {
  names        = ["haproxy", "socat", "curl"]
  update_cache = true
}

template "config" {
  source     = "templates/haproxy.cfg.tftpl"
  path       = "/etc/haproxy/haproxy.cfg"
  vars       = { port = var.port, stats_port = var.stats_port, group = var.group, backends = local.backends }
  depends_on = [package.haproxy]
  notify     = [handler.reload]
}

service "haproxy" {
  name       = "haproxy"
  state      = "started"
  enabled    = true
  depends_on = [template.config]
}

# haproxy checks the configuration and reloads without dropping connections.
handler "reload" {
  service {
    name  = "haproxy"
    state = "reloaded"
  }
}

output "url" {
  value       = "http://127.0.0.1:${var.port}/"
  description = "The balanced URL."
}

output "backend" {
  value       = var.group
  description = "The haproxy backend's name (servers are named after their hosts)."
}

output "socket" {
  value       = "/run/haproxy/admin.sock"
  description = "The admin socket (root only): set server BACKEND/HOST state maint|ready."
}

output "stats_url" {
  value       = "http://127.0.0.1:${var.stats_port}/stats;csv"
  description = "Read-only stats in CSV (a server's status is column 18)."
}
